"""Running the real Claude Code CLI against a gateway, and what the gateway saw meanwhile.

Claude Code hides a refusal: a 400 makes it retry the same turn with fewer betas and fields
(no ToolSearch, no effort, no thinking display), and the run still succeeds. So every run
records what the gateway answered each request (`ServedRequests`, an observer of the gateway),
and a test calls `served.assert_none_refused()` besides the run's own outcome.

The CLI is run with a clean environment and a temporary HOME so the developer's own settings
cannot change it, with CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC so it never looks for
Anthropic's servers, and always under a timeout: the CLI waits minutes on a stalled stream.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme
from ai_proxy.auth import hash_key
from ai_proxy.config import Config
from ai_proxy.gateway import CoreRequest, CoreResponse
from ai_proxy.http.app import create_app
from ai_proxy.observability import RequestRecord

from tests.e2e.cli_process import run_cli
from tests.gateway_server import make_config, serve_app

HERE = Path(__file__).parent
CLIENT_KEY = "sk-gateway-client-key-for-claude-code"
RUN_TIMEOUT = 60  # seconds; a healthy run takes under 10


def install_claude_code() -> str:
    """The pinned CLI's path (installs it on first use; see install_claude_code.sh)."""
    installed = subprocess.run(
        ["bash", str(HERE / "install_claude_code.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return installed.stdout.strip().splitlines()[-1]


def gateway_config(upstreams: dict[str, str], keys: dict[str, str], **sections: Any) -> Config:
    """A config for the fakes, with Claude Code's key as the one client key."""
    auth = {"client_keys": [{"name": "claude-code", "sha256": hash_key(CLIENT_KEY)}]}
    return make_config(upstreams, keys=keys, auth=auth, **sections)


@dataclass
class ServedRequests:
    """What Claude Code sent the gateway (`requests`) and how each ended (`records`, as the
    gateway's observers see it: status, error type and message, model)."""

    requests: list[CoreRequest] = field(default_factory=list)
    records: list[RequestRecord] = field(default_factory=list)

    def request_started(self, record: RequestRecord) -> None:
        pass

    def stream_started(self, record: RequestRecord) -> None:
        pass

    def secret_refresh_failed(self, source: str) -> None:
        pass

    def limit_store_failed(self, store: str) -> None:
        pass

    def request_finished(self, record: RequestRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[dict[str, Any]]:
        """The /v1/messages bodies Claude Code sent, in order."""
        return [json.loads(r.body) for r in self.requests if r.path == "/v1/messages"]

    def assert_none_refused(self) -> None:
        """The gateway served some /v1/messages and answered every request with a 200 and no
        error event; the failure lists what it refused, and why."""
        refused = [
            f"{r.method} {r.path} model={r.client_model} -> {r.status} {r.error_type}: "
            f"{r.error_message}"
            for r in self.records
            if not r.ok
        ]
        if refused:
            raise AssertionError("the gateway refused Claude Code:\n" + "\n".join(refused))
        if not self.messages():
            raise AssertionError("the gateway served no /v1/messages request")


@contextmanager
def serve_recorded_gateway(config: Config) -> Iterator[tuple[str, ServedRequests]]:
    """The gateway for `config` and the record of what it served; read it after the block
    (then every stream has ended and been reported)."""
    app = create_app(config)
    served = ServedRequests()
    gateway = app.gateway
    gateway.observers.append(served)
    handle = gateway.handle

    async def recording_handle(request: CoreRequest, *, finish_json: bool = True) -> CoreResponse:
        served.requests.append(request)
        return await handle(request, finish_json=finish_json)

    gateway.handle = recording_handle  # type: ignore[method-assign]
    with serve_app(app) as url:
        yield url, served


@dataclass
class Run:
    events: list[dict[str, Any]]  # the stream-json lines

    @property
    def result(self) -> dict[str, Any]:
        return self.events[-1]


def run_claude(
    binary: str,
    base_url: str,
    workdir: Path,
    prompt: str,
    *,
    model: str,
    allowed_tools: Sequence[str] = ("Bash",),
    env: Mapping[str, str] | None = None,
) -> Run:
    home = workdir.parent / "home"
    home.mkdir(exist_ok=True)
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": CLIENT_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        **(env or {}),
    }
    command = [
        binary,
        "-p",
        prompt,
        "--model",
        model,
        "--output-format",
        "stream-json",
        "--verbose",
        "--allowedTools",
        ",".join(allowed_tools),
    ]
    result = run_cli(command, workdir, environment, RUN_TIMEOUT)
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return Run(events)


@contextmanager
def serve_page(html: str, directory: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """An HTTPS page on 127.0.0.1 (Claude Code's WebFetch upgrades http to https), signed by a
    throwaway CA: yields the page's URL, the CA's PEM file and the paths fetched so far."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = directory / "page-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    fetched: list[str] = []
    body = html.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched.append(self.path)
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="page", daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}/notes.html", ca_file, fetched
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
