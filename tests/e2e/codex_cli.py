"""Running the real Codex CLI (`codex exec --json`) against a gateway.

Codex reads its settings from CODEX_HOME/config.toml: each run gets a fresh one naming the
gateway as its only model provider, on the Responses wire API, with retries off (one
scripted upstream answer is one Codex request), approvals and sandbox off (so the shell
tool runs unasked), and everything that talks to OpenAI or GitHub off: update checks,
analytics, feedback, telemetry, and the plugin and app sync (tests/fixtures/ingress/README.md
has what each setting stopped). Any other traffic goes through a proxy that refuses every
connection, so nothing can reach the internet. The run is always under a timeout.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.cli_process import NOWHERE, run_cli

HERE = Path(__file__).parent
BINARY = HERE / ".agent-clis" / "node_modules" / ".bin" / "codex"  # install_agent_clis.sh
CLIENT_KEY = "sk-gateway-client-key-for-codex"
RUN_TIMEOUT = 90  # seconds; a healthy run takes a few
CONFIG = """\
model = {model}
model_provider = "gateway"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false
{extra}
[features]
plugins = false
remote_plugin = false
apps = false

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"

[model_providers.gateway]
name = "gateway"
base_url = {base_url}
env_key = "CODEX_GATEWAY_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"""


def installed_codex() -> Path | None:
    """The pinned CLI, if tests/e2e/install_agent_clis.sh has installed it."""
    return BINARY if BINARY.is_file() else None


def write_config(codex_home: Path, base_url: str, model: str, extra: str = "") -> Path:
    """CODEX_HOME/config.toml for a run against the gateway at `base_url`; `extra` is more
    top-level TOML."""
    codex_home.mkdir(parents=True, exist_ok=True)
    path = codex_home / "config.toml"
    # JSON strings are TOML basic strings.
    text = CONFIG.format(
        model=json.dumps(model), base_url=json.dumps(f"{base_url}/v1"), extra=extra
    )
    path.write_text(text)
    return path


@dataclass(frozen=True)
class CodexRun:
    events: list[dict[str, Any]]  # the --json lines
    stderr: str

    def items(self, kind: str) -> list[dict[str, Any]]:
        """The completed thread items of one type (agent_message, command_execution, ...)."""
        return [
            event["item"]
            for event in self.events
            if event.get("type") == "item.completed" and event["item"].get("type") == kind
        ]

    @property
    def final_text(self) -> str:
        messages = self.items("agent_message")
        assert messages, f"Codex printed no answer: {self.events}\n{self.stderr[-3000:]}"
        text: str = messages[-1]["text"]
        return text


def run_codex(
    binary: Path,
    base_url: str,
    workdir: Path,
    prompt: str,
    *,
    model: str,
    key: str = CLIENT_KEY,
    config_extra: str = "",
) -> CodexRun:
    """`codex exec --skip-git-repo-check --json <prompt>` in `workdir`, with a clean
    environment and a temporary HOME and CODEX_HOME beside it; fails unless Codex exits 0."""
    home = workdir.parent / "home"
    home.mkdir(exist_ok=True)
    codex_home = workdir.parent / "codex-home"
    write_config(codex_home, base_url, model, config_extra)
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        "CODEX_GATEWAY_KEY": key,
        "HTTPS_PROXY": NOWHERE,
        "HTTP_PROXY": NOWHERE,
        "ALL_PROXY": NOWHERE,
        "NO_PROXY": "127.0.0.1,localhost",
        "RUST_LOG": "warn",
    }
    command = [str(binary), "exec", "--skip-git-repo-check", "--json", prompt]
    result = run_cli(command, workdir, environment, RUN_TIMEOUT)
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return CodexRun(events, result.stderr)
