"""Build each platform's deployable artifact under build/ (one command per target, see Makefile).

    python scripts/package.py lambda    build/lambda/, build/ai-proxy-lambda.zip (sam deploy)
    python scripts/package.py azure     build/azure/ (+ .python_packages), build/ai-proxy-azure.zip
    python scripts/package.py cloudrun  build/ai-proxy-cloudrun.tar.gz (docker build context)

Dependencies are installed for the target platform (manylinux x86_64, CPython 3.11) from
binary wheels, so the artifact is right whatever machine builds it, and only from the target's
lock under requirements/ with every hash checked: the same commit gives the same packages. The
Lambda zip leaves out boto3/botocore, which the Lambda Python runtime provides (`--with-boto3`
bundles them, from aws.txt). Next to each artifact: NAME.cdx.json, a CycloneDX SBOM read from
the dist-info inside the artifact, each package with the sha256 of the wheel it came from, and
NAME.sha256 (README, "Supply chain").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
LOCKS = ROOT / "requirements"
PLATFORM = [
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "3.11",
    "--only-binary=:all:",
]
LAMBDA_ZIP_LIMIT = 50 * 1024 * 1024  # direct upload; unzipped limit is 250 MiB
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
# Dropped from bundles: bytecode is rebuilt at run time, tests are dead weight.
PRUNE_DIRS = {"__pycache__", "tests", "test"}
PRUNE_SUFFIXES = {".pyc", ".pyi"}


def build_wheel(workdir: Path) -> Path:
    # No build isolation: the backend is the venv's, installed from requirements/build.txt with
    # hashes, where an isolated build would fetch whatever hatchling is newest.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(workdir),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = workdir.glob("ai_proxy-*.whl")
    return wheel


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pip_install(target: Path, lock: str, wheel: Path, extra: str, report: Path) -> None:
    """The lock with --require-hashes, and the project's own wheel pinned by its hash.

    No --no-deps: pip resolves the wheel's dependencies against the lock and stops when one is
    missing from it, so an artifact never holds a package that the lock does not name.
    """
    spec = f"ai-proxy{f'[{extra}]' if extra else ''} @ {wheel.as_uri()}"
    requirements = report.with_name("requirements.txt")
    requirements.write_text(
        f"-r {LOCKS / lock}\n{spec} --hash=sha256:{sha256(wheel)}\n", encoding="utf-8"
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--upgrade",
            "--require-hashes",
            "--report",
            str(report),
            "--target",
            str(target),
            *PLATFORM,
            "-r",
            str(requirements),
        ],
        check=True,
    )
    # It names the temporary wheel file: gone after the build, and different on every build.
    for record in target.glob("ai_proxy-*.dist-info/RECORD"):
        (record.parent / "direct_url.json").unlink()
        lines = record.read_text().splitlines(keepends=True)
        record.write_text("".join(line for line in lines if "/direct_url.json," not in line))


def write_sbom(site: Path, report: Path, artifact: Path) -> Path:
    """CycloneDX JSON from the dist-info in `site`, with the sha256 of each installed wheel."""
    sbom = artifact.with_name(artifact.name.split(".")[0] + ".cdx.json")
    tool = Path(sys.executable).with_name("cyclonedx-py")
    if not tool.exists():
        raise SystemExit(f"{tool} is missing: make install-dev")
    # An interpreter that sees only the standard library and the artifact (-S: no site-packages).
    python = report.with_name("python-artifact")
    python.write_text(f'#!/bin/sh\nPYTHONPATH="{site}" exec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    env = {**os.environ, "SOURCE_DATE_EPOCH": source_date_epoch()}
    env.pop("PYTHONPATH", None)
    subprocess.run(
        [
            str(tool),
            "environment",
            "-S",
            "--pyproject",
            str(ROOT / "pyproject.toml"),
            "--output-reproducible",
            "-o",
            str(sbom),
            str(python),
        ],
        check=True,
        env=env,
    )
    installed = json.loads(report.read_text())["install"]
    wheel_hashes = {
        normalize(item["metadata"]["name"]): item["download_info"]["archive_info"]["hashes"]
        for item in installed
    }
    document = json.loads(sbom.read_text())
    for component in [document["metadata"]["component"], *document.get("components", [])]:
        digest = wheel_hashes[normalize(component["name"])]["sha256"]
        component["hashes"] = [{"alg": "SHA-256", "content": digest}]
    sbom.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return sbom


def source_date_epoch() -> str:
    """The SBOM's timestamp: the commit's time, so that rebuilding a commit changes nothing."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        return os.environ["SOURCE_DATE_EPOCH"]
    commit = subprocess.run(
        ["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True
    )
    return commit.stdout.strip() if commit.returncode == 0 and commit.stdout.strip() else "0"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def write_checksum(artifact: Path) -> None:
    # `sha256sum -c build/NAME.sha256` from build/.
    artifact.with_name(artifact.name.split(".")[0] + ".sha256").write_text(
        f"{sha256(artifact)}  {artifact.name}\n"
    )


def prune(tree: Path) -> None:
    for path in sorted(tree.rglob("*"), reverse=True):
        if path.is_dir() and path.name in PRUNE_DIRS and path.parent.name != "ai_proxy":
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.suffix in PRUNE_SUFFIXES:
            path.unlink()


def zip_tree(tree: Path, archive: Path) -> None:
    archive.unlink(missing_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo.from_file(path, path.relative_to(tree).as_posix())
                # Fixed times: the same files give the same zip, byte for byte.
                info.date_time = (1980, 1, 1, 0, 0, 0)
                info.compress_type = zipfile.ZIP_DEFLATED
                with path.open("rb") as source:
                    bundle.writestr(info, source.read(), compresslevel=9)


def size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def package_lambda(with_boto3: bool) -> Path:
    tree, archive = BUILD / "lambda", BUILD / "ai-proxy-lambda.zip"
    shutil.rmtree(tree, ignore_errors=True)
    with tempfile.TemporaryDirectory() as workdir:
        wheel, report = build_wheel(Path(workdir)), Path(workdir) / "report.json"
        # lambda.txt: the `aws` extra without boto3 (powertools: CloudWatch EMF metrics), so
        # the wheel goes in without the extra, which would ask for boto3.
        if with_boto3:
            pip_install(tree, "aws.txt", wheel, "aws", report)
        else:
            pip_install(tree, "lambda.txt", wheel, "", report)
        run_sh = tree / "run.sh"
        shutil.copy(ROOT / "adapters/aws_lambda/run.sh", run_sh)
        run_sh.chmod(0o755)
        prune(tree)
        zip_tree(tree, archive)
        write_sbom(tree, report, archive)
    write_checksum(archive)
    zipped, unzipped = size(archive), size(tree)
    print(
        f"{archive.relative_to(ROOT)}: {mib(zipped)} zipped, {mib(unzipped)} unzipped "
        f"(Lambda limits: {mib(LAMBDA_ZIP_LIMIT)} zipped, {mib(LAMBDA_UNZIPPED_LIMIT)} unzipped)"
    )
    if zipped > LAMBDA_ZIP_LIMIT or unzipped > LAMBDA_UNZIPPED_LIMIT:
        raise SystemExit("the Lambda package is over the limit")
    return archive


def package_azure() -> Path:
    tree, archive = BUILD / "azure", BUILD / "ai-proxy-azure.zip"
    shutil.rmtree(tree, ignore_errors=True)
    adapter = ROOT / "adapters/azure_functions"
    tree.mkdir(parents=True)
    for name in ("function_app.py", "host.json"):
        shutil.copy(adapter / name, tree / name)
    # `func azure functionapp publish --no-build` and zip deploy load dependencies from here.
    site = tree / ".python_packages/lib/site-packages"
    with tempfile.TemporaryDirectory() as workdir:
        wheel, report = build_wheel(Path(workdir)), Path(workdir) / "report.json"
        pip_install(site, "azure.txt", wheel, "azure", report)
        # The worker provides azure-functions; the app's copy must not shadow it.
        (tree / "requirements.txt").write_text("azure-functions\n")
        prune(site)
        zip_tree(tree, archive)
        write_sbom(site, report, archive)
    write_checksum(archive)
    print(f"{archive.relative_to(ROOT)}: {mib(size(archive))} zipped ({tree.relative_to(ROOT)}/)")
    return archive


CLOUDRUN_CONTEXT = (
    "Dockerfile",
    ".dockerignore",
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "cloudbuild.yaml",
    "requirements",
    "core",
    "adapters",
)


def package_cloudrun() -> Path:
    archive = BUILD / "ai-proxy-cloudrun.tar.gz"
    BUILD.mkdir(exist_ok=True)

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        name = Path(info.name).name
        return None if name in {"__pycache__", ".mypy_cache"} or name.endswith(".pyc") else info

    with tarfile.open(archive, "w:gz") as context:
        for name in CLOUDRUN_CONTEXT:
            if (ROOT / name).exists():
                context.add(ROOT / name, arcname=name, filter=keep)
    # The image's packages: the Dockerfile's install for cloudbuild.yaml's EXTRAS=gcp, done here
    # the same way (gcp.txt, hashes checked) so that the SBOM is read from real dist-info.
    with tempfile.TemporaryDirectory() as workdir:
        wheel, report = build_wheel(Path(workdir)), Path(workdir) / "report.json"
        pip_install(Path(workdir) / "site", "gcp.txt", wheel, "gcp", report)
        write_sbom(Path(workdir) / "site", report, archive)
    write_checksum(archive)
    print(
        f"{archive.relative_to(ROOT)}: {mib(size(archive))} (docker build context; "
        "gcloud builds submit --config cloudbuild.yaml .)"
    )
    return archive


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("target", choices=["lambda", "azure", "cloudrun"])
    parser.add_argument("--with-boto3", action="store_true", help="lambda: bundle boto3 too")
    args = parser.parse_args()
    if args.target == "lambda":
        package_lambda(args.with_boto3)
    elif args.target == "azure":
        package_azure()
    else:
        package_cloudrun()


if __name__ == "__main__":
    main()
