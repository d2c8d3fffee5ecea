"""The locks under requirements/: complete, hashed, and the only source any install reads.

Offline checks; `make lock-check` (run by `make test`) re-resolves against PyPI, and
tests/adapters/test_artifacts.py checks the built artifacts against their SBOMs.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
ARTIFACT_LOCKS = ("gateway", "aws", "lambda", "gcp", "azure", "tokenizer")
# One requirement: "name==version \" and its "--hash=sha256:..." lines.
REQUIREMENT = re.compile(
    r"^(\S+?)==(\S+) \\\n((?:    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)", re.M
)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    return {normalize(n): v for n, v, _ in REQUIREMENT.findall((LOCKS / f"{lock}.txt").read_text())}


@pytest.mark.parametrize("lock", ["dev", "build", *ARTIFACT_LOCKS])
def test_every_requirement_is_pinned_with_hashes(lock: str) -> None:
    text = (LOCKS / f"{lock}.txt").read_text()
    requirements = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert requirements
    assert len(REQUIREMENT.findall(text)) == len(requirements), "a requirement without ==/hashes"
    assert "-e " not in text and "file:" not in text and "ai-proxy" not in requirements


@pytest.mark.parametrize("lock", ARTIFACT_LOCKS)
def test_artifacts_ship_the_versions_the_tests_ran_against(lock: str) -> None:
    dev = pins("dev")
    assert {name: dev.get(name) for name in pins(lock)} == pins(lock)


def test_gateway_lock_holds_the_default_dependencies_and_no_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = {normalize(re.split(r"[<>=!~; \[]", spec)[0]) for spec in project["dependencies"]}
    gateway = pins("gateway")
    assert direct <= set(gateway)
    extras = project["optional-dependencies"]
    for extra in ("aws", "gcp", "azure"):
        only_there = {normalize(re.split(r"[<>=!~; \[]", spec)[0]) for spec in extras[extra]}
        assert not only_there & set(gateway), extra


def test_the_lambda_lock_leaves_boto3_to_the_runtime() -> None:
    assert {"boto3", "botocore", "s3transfer"} <= set(pins("aws"))
    assert not {"boto3", "botocore", "s3transfer"} & set(pins("lambda"))
    assert {"mangum", "aws-lambda-powertools"} <= set(pins("lambda"))


def test_the_build_tools_are_locked_too() -> None:
    build_system = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    assert {"pip", "hatchling", "editables"} <= set(pins("build"))
    assert build_system["build-backend"] == "hatchling.build"


def test_every_pip_install_in_the_makefile_and_dockerfile_checks_hashes() -> None:
    for name in ("Makefile", "Dockerfile"):
        text = (ROOT / name).read_text().replace("\\\n", " ")
        installs = re.findall(r"pip install [^\n&]*", text)
        assert installs, name
        for command in installs:
            # Only the project itself goes in without a lock, and without its dependencies.
            assert "--require-hashes" in command or "--no-deps" in command, (name, command)
            assert (
                "--require-hashes" in command
                or "--no-build-isolation" in command
                or (".whl" in command)
            ), (name, command)


def test_dockerfile_base_image_is_one_argument_for_both_stages() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", dockerfile, re.M)
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == ["${PYTHON_IMAGE}"] * 2
