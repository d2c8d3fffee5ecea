"""One run of an agent CLI (Claude Code, Codex, gemini-cli) as the e2e tests run them."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

# A proxy no one listens on: any connection a CLI tries beyond the gateway fails at once, so
# nothing can reach the internet.
NOWHERE = "http://127.0.0.1:9"


def run_cli(
    command: Sequence[str], workdir: Path, environment: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """`command` in `workdir` with exactly `environment`, no stdin, under `timeout`. Fails,
    showing the ends of both outputs, unless it exits 0."""
    result = subprocess.run(
        list(command),
        cwd=workdir,
        env=dict(environment),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result
