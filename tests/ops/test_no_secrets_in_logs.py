"""Keys never reach a log line, an error body or a metric, whatever the request or the failure.

The request carries the client's key (x-api-key and Authorization), the prompt carries a string
shaped like an API key, and upstream is made to quote both keys back in its errors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import orjson
import pytest
from ai_proxy.http.app import create_app

from tests.fakes.gemini import FakeGemini
from tests.fakes.gemini_replies import HttpReply, StreamError, Timing, text_answer

from .conftest import LogCapture, messages_body, ops_config, serve

# Shaped like no known key: only the registry of keys the gateway holds can catch it.
UPSTREAM_KEY = "upstream-secret-7f3a9c1e5b2d40688e1f"
CLIENT_KEY = "aip_client-key-Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OQ"
WRONG_CLIENT_KEY = "aip_wrong-key-cXV4MDEyMzQ1Njc4OWZvb2Jhcg"
PROMPT_SECRET = "sk-ant-api03-PROMPTSECRET-0123456789abcdefghijkl"
SECRETS = (UPSTREAM_KEY, CLIENT_KEY, WRONG_CLIENT_KEY, PROMPT_SECRET)
PROMPT = f"My key is {PROMPT_SECRET}, please keep it safe."


def upstream_echo(status: int) -> HttpReply:
    """An upstream error quoting what it was sent: the worst case for a gateway that relays it."""
    message = f"Invalid value {PROMPT_SECRET!r} for key {UPSTREAM_KEY}"
    body = {"error": {"code": status, "message": message, "status": "INVALID_ARGUMENT"}}
    return HttpReply(status, orjson.dumps(body))


@pytest.fixture
def gemini_with_secret_key() -> Iterator[FakeGemini]:
    with FakeGemini(api_key=UPSTREAM_KEY) as fake:
        yield fake


@pytest.mark.parametrize("log_bodies", [False, True])
def test_no_key_in_logs_error_bodies_or_metrics(
    logs: LogCapture, gemini_with_secret_key: FakeGemini, log_bodies: bool
) -> None:
    gemini = gemini_with_secret_key
    logs.configure(level="debug")
    client_keys = [{"name": "ci", "sha256": hashlib.sha256(CLIENT_KEY.encode()).hexdigest()}]
    config = ops_config(
        gemini.base_url,
        UPSTREAM_KEY,
        auth={"disabled": False, "client_keys": client_keys},
        log={"log_bodies": log_bodies},
    )
    bodies: list[str] = []
    by_header = {"x-api-key": CLIENT_KEY}
    by_bearer = {"authorization": f"Bearer {CLIENT_KEY}"}
    with serve(create_app(config)) as url, httpx.Client(base_url=url, timeout=10) as client:

        def send(headers: dict[str, str], stream: bool = False, **body: object) -> httpx.Response:
            payload = {**messages_body(stream=stream, text=PROMPT), **body}
            response = client.post("/v1/messages", json=payload, headers=headers)
            bodies.append(response.text)
            return response

        assert send(by_header).status_code == 200
        assert send(by_bearer, stream=True).status_code == 200
        gemini.enqueue(upstream_echo(400))
        assert send(by_header).status_code == 400
        gemini.enqueue(
            text_answer(
                "partial answer",
                chunks=2,
                stream_error=StreamError(1, orjson.loads(upstream_echo(500).body)),
                timing=Timing(between_chunks=0.02),
            )
        )
        broken = send(by_bearer, stream=True)
        assert broken.status_code == 200 and "event: error" in broken.text
        assert send(by_header, max_tokens=PROMPT_SECRET).status_code == 400  # schema error
        assert send({"x-api-key": WRONG_CLIENT_KEY}).status_code == 401
        assert send({"authorization": f"Bearer {WRONG_CLIENT_KEY}"}).status_code == 401
        assert gemini.requests[0].headers["x-goog-api-key"] == UPSTREAM_KEY  # it was used
        bodies.append(client.get("/metrics").text)
        logs.wait_for(lambda entries: len([e for e in entries if e["msg"] == "request"]) == 7)

    text = logs.stream.getvalue()
    for secret in SECRETS:
        assert secret not in text, f"{secret} logged"
        for body in bodies:
            assert secret not in body, f"{secret} in a response: {body[:300]}"
    # The upstream errors did reach the client and the log, with the keys taken out.
    assert any("[redacted]" in body for body in bodies)
    access = [e for e in logs.entries() if e["msg"] == "request"]
    assert {e["client"] for e in access if e["status"] != 401} == {"ci"}
    assert any("[redacted]" in (e["error"] or "") for e in access)
    body_lines = [e for e in logs.entries() if e["logger"] == "ai_proxy.bodies"]
    if log_bodies:
        assert body_lines and all(PROMPT_SECRET not in e["body"] for e in body_lines)
        assert any("My key is [redacted], please keep it safe." in e["body"] for e in body_lines)
    else:
        assert body_lines == []
        assert "keep it safe" not in text  # no message content at all
