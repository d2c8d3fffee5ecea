"""SIGTERM to a real `ai-proxy` process: readiness fails at once, requests are still served
during the drain, the stream in flight completes after the listener closed, then the process
exits. Also: several workers add their metrics up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.gemini import FakeGemini
from tests.fakes.gemini_replies import Timing, text_answer

from .conftest import messages_body

pytestmark = pytest.mark.slow

DRAIN_SECONDS = 1.5
FLASH = "gemini-2.5-flash"
WORDS = [f"word{i}" for i in range(10)]
BETWEEN_CHUNKS = 0.3  # the stream lasts ~3 s: longer than the drain


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ai_proxy_command() -> list[str]:
    script = Path(sys.executable).with_name("ai-proxy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ai_proxy.cli"]


class Process:
    """`ai-proxy --config FILE` with its stdout collected as lines."""

    def __init__(self, config: Path, *extra: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env = {k: v for k, v in env.items() if not k.startswith(("AI_PROXY_", "PROMETHEUS_"))}
        self.popen = subprocess.Popen(
            [*ai_proxy_command(), "--config", str(config), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self, url: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError("ai-proxy exited:\n" + "\n".join(self.lines))
            try:
                if httpx.get(url + "/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError("ai-proxy did not become ready:\n" + "\n".join(self.lines))

    def entries(self) -> list[dict[str, object]]:
        self._reader.join(timeout=5)
        return [orjson.loads(line) for line in self.lines if line.startswith("{")]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=10)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


def write_config(path: Path, port: int, gemini: FakeGemini, **server: object) -> Path:
    extra = "".join(f"{key} = {value}\n" for key, value in server.items())
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
shutdown_timeout_seconds = 20
{extra}
[auth]
disabled = true

[providers.gemini]
base_url = "{gemini.base_url}"
api_key = "{gemini.api_key}"
""",
        encoding="utf-8",
    )
    return path


def test_sigterm_during_a_stream_lets_it_finish(tmp_path: Path, gemini: FakeGemini) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = write_config(tmp_path / "config.toml", port, gemini, drain_seconds=DRAIN_SECONDS)
    process = Process(config)
    try:
        process.wait_ready(url)
        gemini.enqueue(
            text_answer(WORDS, timing=Timing(between_chunks=BETWEEN_CHUNKS)),
        )
        started = threading.Event()
        received: list[bytes] = []

        def stream() -> None:
            body = messages_body(FLASH, stream=True)
            with httpx.stream("POST", url + "/v1/messages", json=body, timeout=30) as response:
                for chunk in response.iter_bytes():
                    received.append(chunk)
                    started.set()

        streamer = threading.Thread(target=stream)
        streamer.start()
        assert started.wait(10), "the stream did not start"

        process.popen.send_signal(signal.SIGTERM)
        sigterm_at = time.monotonic()
        # Readiness fails at once, while the process keeps serving.
        ready = _poll_until(lambda: httpx.get(url + "/health/ready", timeout=2).status_code == 503)
        assert ready - sigterm_at < 0.5
        draining = httpx.get(url + "/health/ready", timeout=2)
        assert draining.json()["reason"] == "draining"
        served = httpx.post(url + "/v1/messages", json=messages_body(FLASH), timeout=10)
        assert served.status_code == 200
        assert served.headers["connection"] == "close"
        assert time.monotonic() - sigterm_at < DRAIN_SECONDS
        # After the drain the listener is closed, while the stream is still going.
        time.sleep(max(0.0, sigterm_at + DRAIN_SECONDS + 0.5 - time.monotonic()))
        assert streamer.is_alive()
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/health/live", timeout=2)

        streamer.join(timeout=30)
        body = b"".join(received).decode()
        assert "event: message_stop" in body
        assert "event: error" not in body
        assert all(word in body for word in WORDS)
        assert process.popen.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        process.stop()

    entries = process.entries()
    lifecycle = [e["msg"] for e in entries if e.get("logger") == "ai_proxy.lifecycle"]
    assert lifecycle == ["starting", "draining", "stopped"]
    streams = [e for e in entries if e.get("msg") == "request" and e.get("stream")]
    assert [(e["status"], e["error_type"]) for e in streams] == [(200, None)]


def _poll_until(condition: object, timeout: float = 5) -> float:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.01)
    raise AssertionError("condition never held")


def test_workers_add_their_metrics_up(tmp_path: Path, gemini: FakeGemini) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = write_config(tmp_path / "config.toml", port, gemini, drain_seconds=0)
    process = Process(config, "--workers", "2")
    try:
        process.wait_ready(url)
        sent = 40
        for _ in range(sent):  # new connections: spread over both workers
            response = httpx.post(url + "/v1/messages", json=messages_body(FLASH))
            assert response.status_code == 200
        scrapes = []
        for _ in range(4):
            text = httpx.get(url + "/metrics").text
            families = {f.name: f for f in text_string_to_metric_families(text)}
            scrapes.append(sum(s.value for s in families["ai_proxy_requests"].samples))
        assert scrapes == [sent] * 4  # whichever worker answers, it counts all of them
        pids = {e["pid"] for e in process_access(process)}
        assert len(pids) == 2, "requests were not spread over two workers"
    finally:
        process.popen.send_signal(signal.SIGTERM)
        try:
            process.popen.wait(timeout=30)
        finally:
            process.stop()


def process_access(process: Process) -> list[dict[str, object]]:
    return [e for e in process.entries() if e.get("msg") == "request"]
