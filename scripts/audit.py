"""Known vulnerabilities in the locked packages (`make audit`; README, "Supply chain").

pip-audit asks PyPI's vulnerability service about every pin in requirements/dev.txt and
requirements/build.txt: together they hold every other lock's pins (checked below first), so
each artifact's packages are covered. Exit status:

    0  audited, nothing known
    1  a known vulnerability (listed with the versions that fix it)
    2  AUDIT NOT RUN: the service could not be asked, or a lock escapes the audited set

An audit that could not run fails, as a vulnerability does: a release must never go out on a
silent pass. `--allow-not-run` (what .ci/run passes) prints the same AUDIT NOT RUN line and exits
0, so that an outage of the service does not block a merge; a vulnerability still fails.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ROOT / "requirements"
AUDITED = ("dev.txt", "build.txt")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.M)


def pins(lock: Path) -> set[tuple[str, str]]:
    return {(re.sub(r"[-_.]+", "-", n).lower(), v) for n, v in PIN.findall(lock.read_text())}


def main() -> int:
    allow_not_run = sys.argv[1:] == ["--allow-not-run"]

    def not_run(reason: str) -> int:
        print(f"AUDIT NOT RUN: {reason.removeprefix('ERROR:pip_audit._cli:')}")
        return 0 if allow_not_run else 2

    audited = set().union(*(pins(LOCKS / name) for name in AUDITED))
    for lock in sorted(LOCKS.glob("*.txt")):
        if escaped := sorted(f"{n}=={v}" for n, v in pins(lock) - audited):
            return not_run(
                f"{lock.name} pins {', '.join(escaped)}, outside {' and '.join(AUDITED)}"
            )
    tool = Path(sys.executable).with_name("pip-audit")
    with tempfile.TemporaryDirectory() as workdir:
        report = Path(workdir) / "audit.json"
        files = [arg for name in AUDITED for arg in ("-r", str(LOCKS / name))]
        # --disable-pip: the locks are complete and hashed, nothing to resolve or install.
        # --strict: a package the service does not know fails instead of being skipped.
        result = subprocess.run(
            [
                str(tool),
                "--disable-pip",
                "--require-hashes",
                "--strict",
                "--progress-spinner",
                "off",
                "--vulnerability-service",
                "pypi",
                "--format",
                "json",
                "-o",
                str(report),
                *files,
            ],
            capture_output=True,
            text=True,
        )
        try:
            dependencies = json.loads(report.read_text())["dependencies"]
        except (OSError, ValueError, KeyError):
            lines = (result.stderr or result.stdout).strip().splitlines()
            return not_run(lines[-1] if lines else f"pip-audit exited {result.returncode}")
    found = [dep for dep in dependencies if dep.get("vulns")]
    for dep in found:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            print(f"{dep['name']}=={dep['version']}: {vuln['id']} (fixed in {fixes})")
    if result.returncode != 0 and not found:
        return not_run(result.stderr.strip().splitlines()[-1] if result.stderr else "unknown")
    print(
        f"audit: {len(dependencies)} locked packages, {len(found)} with known vulnerabilities "
        f"(PyPI vulnerability service; {', '.join(AUDITED)})"
    )
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
