"""Build each platform's deployable artifact under build/ (one command per target, see Makefile).

    python scripts/package.py lambda    build/lambda/, build/ai-proxy-lambda.zip (sam deploy)
    python scripts/package.py azure     build/azure/ (+ .python_packages), build/ai-proxy-azure.zip
    python scripts/package.py cloudrun  build/ai-proxy-cloudrun.tar.gz (docker build context)

Dependencies are installed for the target platform (manylinux x86_64, CPython 3.11) from
binary wheels, so the artifact is right whatever machine builds it. The Lambda zip leaves out
boto3/botocore, which the Lambda Python runtime provides (`--with-boto3` bundles them).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
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
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(workdir),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = workdir.glob("ai_proxy-*.whl")
    return wheel


def pip_install(target: Path, requirements: list[str]) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--upgrade",
            "--target",
            str(target),
            *PLATFORM,
            *requirements,
        ],
        check=True,
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
        wheel = build_wheel(Path(workdir))
        # The `aws` extra without boto3 (powertools: CloudWatch EMF metrics).
        extras = ["mangum>=0.17", "aws-lambda-powertools>=3.0"]
        extras += ["boto3>=1.34"] if with_boto3 else []
        pip_install(tree, [str(wheel), *extras])
    run_sh = tree / "run.sh"
    shutil.copy(ROOT / "adapters/aws_lambda/run.sh", run_sh)
    run_sh.chmod(0o755)
    prune(tree)
    zip_tree(tree, archive)
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
        wheel = build_wheel(Path(workdir))
        pip_install(site, [f"{wheel}[azure]"])
    # The worker provides azure-functions; the app's copy must not shadow it.
    (tree / "requirements.txt").write_text("azure-functions\n")
    prune(site)
    zip_tree(tree, archive)
    print(f"{archive.relative_to(ROOT)}: {mib(size(archive))} zipped ({tree.relative_to(ROOT)}/)")
    return archive


CLOUDRUN_CONTEXT = (
    "Dockerfile",
    ".dockerignore",
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "cloudbuild.yaml",
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
