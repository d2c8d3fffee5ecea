"""Write or check the dependency locks under requirements/ (README, "Supply chain").

    python scripts/lock.py            re-lock after editing pyproject.toml (`make lock`)
    python scripts/lock.py --upgrade  every pin to its newest release (`make lock-upgrade`)
    python scripts/lock.py --check    fail if a lock disagrees with pyproject (`make lock-check`)

uv rather than pip-tools: one pinned binary that resolves for a platform other than the one it
runs on (`--python-platform`), so every lock is the same on a laptop and in CI, and it reads the
extras straight from pyproject.toml without building the project.

Every lock is resolved for the artifacts' platform (CPython 3.11, manylinux2014 x86_64: see
PLATFORM in scripts/package.py), which is also the dev machine's and CI's. dev.txt is resolved
first and every other lock is constrained by it, so each artifact ships exactly the versions the
test suite ran against. Candidates are limited to files uploaded before requirements/EXCLUDE_NEWER
and the existing pins are kept as preferences, so a check run next month, after new releases
and new wheels of old releases, still resolves to the same bytes.
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCKS = "requirements"
STAMP = "EXCLUDE_NEWER"
UV = [str(Path(sys.executable).with_name("uv")), "pip", "compile"]
RESOLVE = [
    "--no-config",
    "--quiet",
    "--generate-hashes",
    "--only-binary",
    ":all:",
    "--python-version",
    "3.11",
    "--python-platform",
    "x86_64-manylinux2014",
    "--default-index",
    "https://pypi.org/simple",
    "--custom-compile-command",
    "make lock",
]

# name: (extras, packages left out). dev.txt first: the others are constrained by it.
TARGETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "dev": (("*",), ()),
    "gateway": ((), ()),
    "aws": (("aws",), ()),
    # The Lambda zip: the Lambda Python runtime provides boto3 and botocore
    # (scripts/package.py --with-boto3 installs aws.txt instead).
    "lambda": (("aws",), ("boto3", "botocore")),
    "gcp": (("gcp",), ()),
    "azure": (("azure",), ()),
    "tokenizer": (("tokenizer",), ()),
}


def compile_build_lock(root: Path, stamp: str, upgrade: list[str]) -> None:
    """build.txt: pip and the build backend, installed with hashes before anything else."""
    build_system = tomllib.loads((root / "pyproject.toml").read_text())["build-system"]
    source = root / LOCKS / "build.in.tmp"
    # editables: what hatchling asks for to install this layout with `pip install -e`.
    source.write_text("\n".join(["pip", "editables", *build_system["requires"]]) + "\n")
    try:
        run_uv(root, [str(source.relative_to(root)), "-o", f"{LOCKS}/build.txt", *upgrade], stamp)
    finally:
        source.unlink()
    lock = root / LOCKS / "build.txt"
    source_name = "[build-system] + pip, editables"
    lock.write_text(lock.read_text().replace(f"{LOCKS}/build.in.tmp", source_name))


def run_uv(root: Path, args: list[str], stamp: str) -> None:
    subprocess.run([*UV, *RESOLVE, "--exclude-newer", stamp, *args], cwd=root, check=True)


def compile_locks(root: Path, stamp: str, upgrade: bool) -> None:
    flags = ["--upgrade"] if upgrade else []
    for name, (extras, left_out) in TARGETS.items():
        args = ["pyproject.toml", "-o", f"{LOCKS}/{name}.txt", *flags]
        if extras == ("*",):
            args.append("--all-extras")
        else:
            args += [arg for extra in extras for arg in ("--extra", extra)]
            args += ["-c", f"{LOCKS}/dev.txt"]
        if left_out:
            excludes = root / LOCKS / f"{name}.excludes.tmp"
            excludes.write_text("\n".join(left_out) + "\n")
            args += ["--excludes", str(excludes.relative_to(root))]
        try:
            run_uv(root, args, stamp)
        finally:
            if left_out:
                excludes.unlink()
    compile_build_lock(root, stamp, flags)


def resolve_in_copy(workdir: Path, stamp: str, upgrade: bool) -> Path:
    """Resolve every lock in a copy of the project, the current pins as preferences only.

    Only `name==version` lines are carried over: uv would otherwise keep a pin's hashes from the
    old file, and a hash edited by hand would go unnoticed.
    """
    shutil.copy(ROOT / "pyproject.toml", workdir / "pyproject.toml")
    (workdir / LOCKS).mkdir()
    for lock in (ROOT / LOCKS).glob("*.txt"):
        pins = re.findall(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[^\s\\;]+", lock.read_text(), re.M)
        (workdir / LOCKS / lock.name).write_text("".join(pin + "\n" for pin in pins))
    compile_locks(workdir, stamp, upgrade)
    return workdir / LOCKS


def check() -> int:
    """Re-resolve and compare: the checked-in locks must come out byte for byte."""
    stamp = (ROOT / LOCKS / STAMP).read_text().strip()
    with tempfile.TemporaryDirectory() as workdir:
        resolved = resolve_in_copy(Path(workdir), stamp, upgrade=False)
        stale = []
        for name in sorted(p.name for p in resolved.glob("*.txt")):
            checked_in = ROOT / LOCKS / name
            old = checked_in.read_text() if checked_in.exists() else ""
            new = (resolved / name).read_text()
            if old != new:
                stale.append(name)
                sys.stdout.writelines(
                    difflib.unified_diff(
                        old.splitlines(keepends=True),
                        new.splitlines(keepends=True),
                        f"{LOCKS}/{name} (checked in)",
                        f"{LOCKS}/{name} (from pyproject.toml)",
                    )
                )
    if stale:
        print(f"lock-check: {', '.join(stale)} disagree with pyproject.toml; run `make lock`")
        return 1
    print(f"lock-check: {len(TARGETS) + 1} locks agree with pyproject.toml")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare, write nothing")
    mode.add_argument("--upgrade", action="store_true", help="newest release of every package")
    args = parser.parse_args()
    if args.check:
        raise SystemExit(check())
    (ROOT / LOCKS).mkdir(exist_ok=True)
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    stamp = now.isoformat().replace("+00:00", "Z")
    with tempfile.TemporaryDirectory() as workdir:
        resolved = resolve_in_copy(Path(workdir), stamp, args.upgrade)
        for lock in resolved.glob("*.txt"):
            shutil.copy(lock, ROOT / LOCKS / lock.name)
    (ROOT / LOCKS / STAMP).write_text(stamp + "\n")
    print(f"{LOCKS}/: {len(TARGETS) + 1} locks written, candidates uploaded before {stamp}")


if __name__ == "__main__":
    main()
