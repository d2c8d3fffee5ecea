"""Running the real gemini-cli (`gemini -p ... --output-format json`) against a gateway.

gemini-cli reads GOOGLE_GEMINI_BASE_URL (the SDK adds /v1beta) and GEMINI_API_KEY, which it
sends as x-goog-api-key. Each run gets a temporary HOME whose ~/.gemini/settings.json selects
API-key auth (with only the base URL set, the CLI picks an auth type its own validator then
refuses), trusts the workspace, runs shell commands without a pty, and turns off auto-update,
usage statistics and telemetry (tests/fixtures/ingress/README.md has what each one stopped).
`--yolo` runs tools unasked. Any other traffic goes through a proxy that refuses every
connection, so nothing can reach the internet. The run is always under a timeout.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.e2e.cli_process import NOWHERE, run_cli

HERE = Path(__file__).parent
BINARY = HERE / ".agent-clis" / "node_modules" / ".bin" / "gemini"  # install_agent_clis.sh
CLIENT_KEY = "sk-gateway-client-key-for-gemini-cli"
RUN_TIMEOUT = 120  # seconds; a healthy run takes a few (node starts slowly)
SETTINGS = {
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
    "tools": {"shell": {"enableInteractiveShell": False}},
}


def installed_gemini_cli() -> Path | None:
    """The pinned CLI, if tests/e2e/install_agent_clis.sh has installed it."""
    return BINARY if BINARY.is_file() else None


def run_gemini_cli(
    binary: Path, base_url: str, workdir: Path, prompt: str, *, model: str, key: str = CLIENT_KEY
) -> dict[str, Any]:
    """`gemini --model <model> -p <prompt> --yolo --output-format json` in `workdir`, with a
    clean environment and a temporary HOME beside it; its JSON output (`response`, `stats`).
    Fails unless the CLI exits 0."""
    home = workdir.parent / "home"
    (home / ".gemini").mkdir(parents=True, exist_ok=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(SETTINGS))
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GEMINI_API_KEY": key,
        "GOOGLE_GEMINI_BASE_URL": base_url,
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
        "HTTPS_PROXY": NOWHERE,
        "HTTP_PROXY": NOWHERE,
        "NO_PROXY": "127.0.0.1,localhost",
        "TERM": "dumb",
    }
    command = [str(binary), "--model", model, "-p", prompt, "--yolo", "--output-format", "json"]
    result = run_cli(command, workdir, environment, RUN_TIMEOUT)
    output: dict[str, Any] = json.loads(result.stdout[result.stdout.index("{") :])
    return output
