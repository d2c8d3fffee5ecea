"""No key (provider or client) in any log line, error body, response header or metric label.

Every path that could carry one is exercised against a fake Gemini that even quotes the
provider key back in its errors; then every captured log line (JSON, debug level, bodies
logged), every response and the whole /metrics page are searched for each secret.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import replace

import httpx
import orjson
import pytest
from ai_proxy.auth import hash_key
from ai_proxy.config import LogConfig
from ai_proxy.logs import configure_logging

from tests.fakes.gemini import (
    FakeGemini,
    HttpReply,
    error_reply,
    mid_stream_error,
    text_answer,
)

from .conftest import body, config_for, running

PROVIDER_KEY = "gemini-provider-secret-7f3a9c41d2"  # not key-shaped: found only as a known key
CLIENT_KEY = "aip_client-secret-key-0123456789abcdefghij"
HAND_PICKED_KEY = "hand-picked-client-secret-98765"
WRONG_KEYS = [CLIENT_KEY + "x", HAND_PICKED_KEY[:-1] + "X", "totally-wrong-key-1234567890"]


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """The production JSON logging into a buffer; the process's logging restored after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging(LogConfig(level="debug", format="json", log_bodies=True), stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_no_key_anywhere(log_stream: io.StringIO) -> None:
    gemini = FakeGemini(api_key=PROVIDER_KEY)
    seen: list[str] = []
    echo = f"API key not valid. Key used: {PROVIDER_KEY}"
    with gemini:
        gemini.enqueue(
            text_answer("fine"),
            text_answer("fine, streamed", chunks=2),
            text_answer("fine again"),
            error_reply(400, echo, status="INVALID_ARGUMENT"),
            error_reply(503, echo),  # retried: the retry log line quotes the message
            error_reply(503, echo),
            HttpReply(
                502, f"<html>bad gateway for key {PROVIDER_KEY}</html>".encode(), "text/html"
            ),
            HttpReply(
                502, f"<html>bad gateway for key {PROVIDER_KEY}</html>".encode(), "text/html"
            ),
            HttpReply(500, f"upstream says {PROVIDER_KEY}".encode(), "text/plain"),
            HttpReply(500, f"upstream says {PROVIDER_KEY}".encode(), "text/plain"),
            replace(
                text_answer("one two three", chunks=3),
                stream_error=mid_stream_error(1, code=500, message=echo),
            ),
        )
        auth = {
            "disabled": False,
            "client_keys": [
                {"name": "ci", "sha256": hash_key(CLIENT_KEY)},
                {"name": "hand", "sha256": hash_key(HAND_PICKED_KEY)},
            ],
        }
        config = config_for(
            gemini.base_url,
            auth=auth,
            providers={"gemini": {"base_url": gemini.base_url, "api_key": PROVIDER_KEY}},
            retries={"max_retries": 1, "initial_backoff_seconds": 0.001},
            log={"level": "debug", "log_bodies": True},
        )
        with running(config) as (base_url, _), httpx.Client(base_url=base_url) as client:

            def call(headers: dict[str, str], stream: bool = False) -> None:
                response = client.post("/v1/messages", json=body(stream=stream), headers=headers)
                seen.append(response.text)
                seen.extend(f"{k}: {v}" for k, v in response.headers.items())

            call({"x-api-key": CLIENT_KEY})
            call({"authorization": f"Bearer {HAND_PICKED_KEY}"}, stream=True)
            call({"x-api-key": HAND_PICKED_KEY})
            for _ in range(4):  # 400, 503 x2, html x2, 500 x2
                call({"x-api-key": CLIENT_KEY})
            call({"x-api-key": CLIENT_KEY}, stream=True)  # the error event mid-stream
            for wrong in WRONG_KEYS:
                call({"x-api-key": wrong})
                call({"authorization": f"Bearer {wrong}"})
            call({"x-api-key": CLIENT_KEY}, stream=False)  # default reply
            metrics = client.get("/metrics")
            assert metrics.status_code == 200
            seen.append(metrics.text)
        assert len(gemini.requests) >= 10
    assert all(r.headers["x-goog-api-key"] == PROVIDER_KEY for r in gemini.requests)
    logs = log_stream.getvalue()
    assert logs.count("\n") > 20, "the test must actually have captured log lines"
    assert "[redacted]" in logs or "[redacted]" in "".join(seen)  # the echo was there to hide
    everything = logs + "\n".join(seen)
    for secret in [PROVIDER_KEY, CLIENT_KEY, HAND_PICKED_KEY, *WRONG_KEYS]:
        assert secret not in everything, f"{secret[:12]}... leaked"
    for digest in (hash_key(CLIENT_KEY), hash_key(HAND_PICKED_KEY)):
        assert digest not in everything
    # Names, not keys, identify clients; retries show in the access log and the metrics.
    access = [orjson.loads(line) for line in logs.splitlines() if '"ai_proxy.access"' in line]
    assert {entry.get("client") for entry in access} >= {"ci", "hand", None}
    assert any(entry.get("retries") for entry in access)
    assert "ai_proxy_upstream_retries" in metrics.text
