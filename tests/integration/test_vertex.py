"""Vertex AI end to end: the gateway, google-auth's real ADC search, and the fakes over HTTP.

google-auth is pointed at a fake metadata server or, through a service-account key file, a
fake OAuth token endpoint; the fake Vertex admits only the tokens those issued, then forwards
to the fake Gemini or the fake Anthropic, which validate what arrives.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from ai_proxy.config import Config

from tests.fakes.anthropic import FakeAnthropic, text_reply
from tests.fakes.gcp_metadata import FakeGoogleAuth, google_auth_env, service_account_file
from tests.fakes.gemini import FakeGemini, text_answer
from tests.fakes.vertex import ANTHROPIC_VERSION, FakeVertex
from tests.gateway_server import serve_gateway

CLAUDE = "claude-sonnet-4-5@20250929"
GEMINI = "gemini-2.5-flash"


@pytest.fixture(scope="module")
def vertex() -> Iterator[FakeVertex]:
    with FakeVertex(
        FakeGoogleAuth(), gemini=FakeGemini(), anthropic=FakeAnthropic(), location="us-east5"
    ) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh(vertex: FakeVertex) -> Iterator[None]:
    vertex.reset()
    yield
    assert vertex.pending == 0, "a scripted reply was not used"


def config(vertex: FakeVertex, **table: Any) -> Config:
    providers = {
        "vertex": {
            "enabled": True,
            "location": vertex.location,
            "base_url": vertex.base_url,
            **table,
        }
    }
    return Config.model_validate(
        {"providers": providers, "auth": {"disabled": True}, "retries": {"max_retries": 0}}
    )


@contextmanager
def gateway(
    vertex: FakeVertex, tmp_path: Path, *, key_file: Path | None = None, **table: Any
) -> Iterator[str]:
    """A gateway started (and its credentials resolved) with google-auth seeing the fakes."""
    with (
        google_auth_env(vertex.google, tmp_path, key_file=key_file),
        serve_gateway(config(vertex, **table)) as url,
    ):
        yield url


def ask(url: str, model: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {
        "model": f"vertex/{model}",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    return httpx.post(f"{url}/v1/messages", json=body, headers=headers or {}, timeout=10)


# --- both publishers, streaming and not, on the metadata server's token ------------------------


def test_gemini_on_the_metadata_servers_token(vertex: FakeVertex, tmp_path: Path) -> None:
    vertex.enqueue(text_answer("Hello from Vertex"), text_answer("Streamed hello", chunks=3))
    with gateway(vertex, tmp_path) as url:
        answer = ask(url, GEMINI)
        assert answer.status_code == 200, answer.text
        assert answer.json()["content"] == [{"type": "text", "text": "Hello from Vertex"}]
        with (
            anthropic.Anthropic(base_url=url, api_key="c", max_retries=0) as client,
            client.messages.stream(
                model=f"vertex/{GEMINI}",
                max_tokens=64,
                messages=[{"role": "user", "content": "Hi"}],
            ) as events,
        ):
            assert events.get_final_text() == "Streamed hello"
    [issued] = vertex.google.tokens.issued
    assert issued.via == "metadata"
    plain, streamed = vertex.requests
    # The project is the metadata server's: the gateway was given none.
    assert plain.project == vertex.google.project and plain.location == "us-east5"
    assert (plain.publisher, plain.model, plain.method) == ("google", GEMINI, "generateContent")
    assert (streamed.method, streamed.query) == ("streamGenerateContent", {"alt": "sse"})
    assert plain.token == streamed.token == issued.token
    assert "x-goog-api-key" not in plain.headers


def test_claude_relayed_with_the_vertex_body(vertex: FakeVertex, tmp_path: Path) -> None:
    vertex.enqueue(text_reply("Claude here"), text_reply("Claude streams"))
    beta = {"anthropic-beta": "context-1m-2025-08-07"}
    with gateway(vertex, tmp_path) as url:
        answer = ask(url, CLAUDE, headers=beta)
        assert answer.status_code == 200, answer.text
        assert answer.json()["content"] == [{"type": "text", "text": "Claude here"}]
        assert answer.json()["model"] == f"vertex/{CLAUDE}"
        with (
            anthropic.Anthropic(base_url=url, api_key="c", max_retries=0) as client,
            client.messages.stream(
                model=f"vertex/{CLAUDE}",
                max_tokens=64,
                messages=[{"role": "user", "content": "Hi"}],
            ) as events,
        ):
            assert events.get_final_text() == "Claude streams"
    plain, streamed = vertex.requests
    assert plain.resource == (
        f"projects/{vertex.project}/locations/us-east5/publishers/anthropic/models/{CLAUDE}"
    )
    assert (plain.method, streamed.method) == ("rawPredict", "streamRawPredict")
    assert plain.json["anthropic_version"] == ANTHROPIC_VERSION and "model" not in plain.json
    assert streamed.json["stream"] is True
    assert plain.headers["anthropic-beta"] == "context-1m-2025-08-07"
    # What reached the model: Anthropic's own request, the model from the URL.
    assert vertex.anthropic.requests[0].json["model"] == CLAUDE


def test_claude_code_s_betas_are_narrowed_to_what_vertex_takes(
    vertex: FakeVertex, tmp_path: Path
) -> None:
    vertex.enqueue(text_reply("Claude here"))
    betas = "claude-code-20250219,interleaved-thinking-2025-05-14,effort-2025-11-24"
    with gateway(vertex, tmp_path) as url:
        answer = ask(url, CLAUDE, headers={"anthropic-beta": betas})
        assert answer.status_code == 200, answer.text
        # The fake refuses what Vertex refuses: sent as they came, the request fails.
        (sent,) = vertex.requests
        assert sent.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
        refused = httpx.post(
            f"{vertex.base_url}/v1/{sent.resource}:rawPredict",
            content=sent.body,
            headers={**sent.headers, "anthropic-beta": betas},
        )
    assert refused.status_code == 400
    assert "Unexpected value(s) `claude-code-20250219`, `effort-2025-11-24`" in refused.text


def test_count_tokens_on_both_publishers(vertex: FakeVertex, tmp_path: Path) -> None:
    with gateway(vertex, tmp_path) as url:
        counts = {}
        for model in (GEMINI, CLAUDE):
            answer = httpx.post(
                f"{url}/v1/messages/count_tokens",
                json={"model": f"vertex/{model}", "messages": [{"role": "user", "content": "Hi"}]},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
            counts[model] = answer.json()["input_tokens"]
    assert all(count > 0 for count in counts.values())
    gemini, claude = vertex.requests
    assert (gemini.model, gemini.method) == (GEMINI, "countTokens")
    assert (claude.publisher, claude.model, claude.method) == (
        "anthropic",
        "count-tokens",
        "rawPredict",
    )
    assert claude.json["model"] == CLAUDE
    assert vertex.anthropic.requests[0].path == "/v1/messages/count_tokens"


# --- the service-account key file --------------------------------------------------------------


def test_service_account_key_file(vertex: FakeVertex, tmp_path: Path) -> None:
    key = service_account_file(tmp_path, vertex.google)
    vertex.google.metadata = False  # not on Google Cloud: the key file is the only way
    try:
        vertex.enqueue(text_answer("Keyed"))
        with gateway(vertex, tmp_path, key_file=key.path) as url:
            answer = ask(url, GEMINI)
    finally:
        vertex.google.metadata = True
    assert answer.status_code == 200, answer.text
    [issued] = vertex.google.tokens.issued[-1:]
    assert (issued.via, issued.principal) == ("token_uri", key.email)
    assert vertex.requests[-1].token == issued.token
    assert vertex.google.refused_grants == []


def test_untrusted_key_is_a_start_up_line_and_a_clear_error(
    vertex: FakeVertex, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = service_account_file(
        tmp_path, vertex.google, email="stranger@x.iam.gserviceaccount.com", trusted=False
    )
    with (
        caplog.at_level("WARNING", logger="ai_proxy.identity"),
        gateway(vertex, tmp_path, key_file=key.path) as url,
    ):
        answer = ask(url, GEMINI)
    assert answer.status_code == 500
    message = answer.json()["error"]["message"]
    assert "Google Application Default Credentials" in message and "invalid_grant" in message
    assert any(
        "no credentials from Google Application Default" in r.message for r in caplog.records
    )
    assert vertex.requests == []  # nothing was sent without a token


# --- the platform refusing ---------------------------------------------------------------------


def test_token_vertex_does_not_know_is_an_authentication_error(
    vertex: FakeVertex, tmp_path: Path
) -> None:
    with gateway(vertex, tmp_path) as url:
        vertex.google.tokens.expire()
        answer = ask(url, CLAUDE)
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["type"] == "authentication_error"
    assert "Application Default Credentials" in error["message"]
    token = vertex.google.tokens.latest
    assert token is not None and token not in answer.text


@pytest.mark.parametrize("model", [GEMINI, CLAUDE])
def test_missing_permission_is_a_start_up_line_and_a_403_naming_it(
    vertex: FakeVertex, tmp_path: Path, model: str, caplog: pytest.LogCaptureFixture
) -> None:
    vertex.google.granted.clear()
    with caplog.at_level("INFO", logger="ai_proxy.identity"), gateway(vertex, tmp_path) as url:
        answer = ask(url, model)
    [line] = [r.getMessage() for r in caplog.records if "lack permission" in r.getMessage()]
    assert "'aiplatform.endpoints.predict'" in line and f"projects/{vertex.project}" in line
    assert "roles/aiplatform.user" in line
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["type"] == "permission_error"
    assert "aiplatform.endpoints.predict" in error["message"]
    assert vertex.requests[-1].resource in error["message"]
    assert "roles/aiplatform.user" in error["message"]


def test_granted_permission_is_checked_once_and_not_reported(
    vertex: FakeVertex, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checks = len(vertex.google.permission_checks)
    with caplog.at_level("INFO", logger="ai_proxy.identity"), gateway(vertex, tmp_path):
        pass
    assert vertex.google.permission_checks[checks:] == [["aiplatform.endpoints.predict"]]
    assert not [r for r in caplog.records if "permission" in r.getMessage()]


def test_claude_model_in_the_body_is_refused_by_the_fake(vertex: FakeVertex) -> None:
    """The fake holds the gateway to Vertex's rule, in Vertex's words."""
    token = vertex.google.tokens.issue("t", "metadata", 60).token
    url = (
        f"{vertex.base_url}/v1/projects/{vertex.project}/locations/{vertex.location}/"
        f"publishers/anthropic/models/{CLAUDE}:rawPredict"
    )
    body = {
        "anthropic_version": ANTHROPIC_VERSION,
        "model": CLAUDE,
        "max_tokens": 8,
        "messages": [],
    }
    answer = httpx.post(url, json=body, headers={"authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "type": "invalid_request_error",
        "message": "model: Extra inputs are not permitted",
    }
