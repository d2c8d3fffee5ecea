"""Vertex AI, sans IO: the URLs for each location and publisher, the bodies, the errors."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from ai_proxy.anthropic.envelope import ClientRequest
from ai_proxy.config import Config
from ai_proxy.errors import (
    AuthenticationFailed,
    InvalidRequest,
    PermissionDenied,
    ProviderNotConfigured,
    RateLimited,
    UpstreamError,
)
from ai_proxy.identity.base import Fetched
from ai_proxy.identity.gcp import GoogleIdentity
from ai_proxy.providers.anthropic.errors import AnthropicUpstreamError
from ai_proxy.providers.base import RequestContext, TranslatingReply
from ai_proxy.providers.vertex import ANTHROPIC_VERSION, VertexProvider

from tests.fakes import vertex as fake_vertex

CLAUDE = "claude-sonnet-4-5@20250929"
GEMINI = "gemini-2.5-flash"


def provider(**table: Any) -> VertexProvider:
    config = Config.model_validate({"providers": {"vertex": {"project": "p-1", **table}}})
    built = VertexProvider(config.providers.get("vertex"))
    return built


def ask(model: str, *, stream: bool = False, **fields: Any) -> tuple[ClientRequest, bytes]:
    payload = {
        "model": f"vertex/{model}",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hi"}],
        **fields,
    }
    if stream:
        payload["stream"] = True
    raw = json.dumps(payload).encode()
    return ClientRequest.from_body(raw), raw


def context(client: ClientRequest, model: str, **headers: str) -> RequestContext:
    return RequestContext(
        f"vertex/{model}", model, "req_1", forward_headers=headers, client_request=client
    )


# --- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "host"),
    [
        ("global", "https://aiplatform.googleapis.com"),
        ("us-east5", "https://us-east5-aiplatform.googleapis.com"),
        ("europe-west1", "https://europe-west1-aiplatform.googleapis.com"),
    ],
)
@pytest.mark.parametrize(
    ("model", "stream", "tail"),
    [
        (GEMINI, False, "publishers/google/models/gemini-2.5-flash:generateContent"),
        (GEMINI, True, "publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
        (CLAUDE, False, f"publishers/anthropic/models/{CLAUDE}:rawPredict"),
        (CLAUDE, True, f"publishers/anthropic/models/{CLAUDE}:streamRawPredict"),
    ],
)
def test_url_for_location_publisher_and_stream(
    location: str, host: str, model: str, stream: bool, tail: str
) -> None:
    vertex = provider(location=location)
    client, _ = ask(model, stream=stream)
    built = vertex.build_request(client, context(client, model), "")
    assert built.url == f"{host}/v1/projects/p-1/locations/{location}/{tail}"
    assert built.stream is stream
    assert vertex.base_url == host


def test_base_url_setting_replaces_the_derived_host() -> None:
    vertex = provider(location="us-east5", base_url="http://127.0.0.1:1234/")
    client, _ = ask(GEMINI)
    url = vertex.build_request(client, context(client, GEMINI), "").url
    assert url.startswith("http://127.0.0.1:1234/v1/projects/p-1/locations/us-east5/")


def test_project_path_parts_are_quoted() -> None:
    vertex = provider(project="a/b")
    client, _ = ask(CLAUDE)
    url = vertex.build_request(client, context(client, CLAUDE), "").url
    assert "/projects/a%2Fb/locations/global/" in url
    assert url.endswith(f"/models/{CLAUDE}:rawPredict")  # `@` is a path character


def test_count_tokens_urls() -> None:
    vertex = provider()
    client, _ = ask(CLAUDE)
    claude = vertex.build_count_tokens_request(client, context(client, CLAUDE), "")
    assert claude.url == (
        "https://aiplatform.googleapis.com/v1/projects/p-1/locations/global/"
        "publishers/anthropic/models/count-tokens:rawPredict"
    )
    client, _ = ask(GEMINI)
    gemini = vertex.build_count_tokens_request(client, context(client, GEMINI), "")
    assert gemini.url.endswith("/publishers/google/models/gemini-2.5-flash:countTokens")


# --- the project ----------------------------------------------------------------------------


class ResolvedIdentity(GoogleIdentity):
    """ADC resolved, without I/O: a token, and the project the credentials named (if any)."""

    def __init__(self, project: str | None) -> None:
        super().__init__("vertex")
        self.named = project

    def fetch(self) -> Fetched[str]:
        self.project = self.named
        return Fetched("ya29.token", None, ("ya29.token",))


def enabled(identity: GoogleIdentity | None) -> VertexProvider:
    config = Config.model_validate({"providers": {"vertex": {"enabled": True}}})
    vertex = VertexProvider(config.providers.get("vertex"))
    if identity is not None:
        identity.load()
        vertex.identity = vertex.google_identity = identity
    return vertex


def test_project_from_the_environment_then_the_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    client, _ = ask(GEMINI)
    url = enabled(ResolvedIdentity("from-adc")).build_request(client, context(client, GEMINI), "")
    assert "/projects/from-adc/" in url.url
    with pytest.raises(ProviderNotConfigured, match=r"providers\.vertex\.project"):
        enabled(ResolvedIdentity(None)).build_request(client, context(client, GEMINI), "")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    url = enabled(ResolvedIdentity("from-adc")).build_request(client, context(client, GEMINI), "")
    assert "/projects/from-env/" in url.url


def test_without_credentials_their_problem_is_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No project can come from credentials that did not resolve: say why they did not."""
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    client, _ = ask(GEMINI)
    with pytest.raises(ProviderNotConfigured, match="Google Application Default Credentials"):
        enabled(None).build_request(client, context(client, GEMINI), "")


def test_identity_only_when_enabled() -> None:
    assert provider().identity is None
    assert provider(enabled=True).identity is not None


# --- bodies ---------------------------------------------------------------------------------


def test_claude_body_is_the_pass_through_with_vertex_version() -> None:
    vertex = provider()
    client, _ = ask(CLAUDE, stream=True, metadata={"user_id": "u"})
    built = vertex.build_request(client, context(client, CLAUDE), "")
    sent = orjson.loads(built.body)
    assert "model" not in sent
    assert sent["anthropic_version"] == ANTHROPIC_VERSION
    assert sent["stream"] is True  # streamRawPredict streams only when the body says so
    assert sent["metadata"] == {"user_id": "u"}  # everything else as the client sent it


def test_claude_count_tokens_names_the_model_in_the_body() -> None:
    vertex = provider()
    client, _ = ask(CLAUDE)
    built = vertex.build_count_tokens_request(client, context(client, CLAUDE), "")
    sent = orjson.loads(built.body)
    assert sent["model"] == CLAUDE and sent["anthropic_version"] == ANTHROPIC_VERSION


def test_gemini_count_tokens_body_is_the_prompt_without_tool_config() -> None:
    vertex = provider()
    tools = [{"name": "ls", "description": "list", "input_schema": {"type": "object"}}]
    client, _ = ask(GEMINI, tools=tools, tool_choice={"type": "any"}, system="Be terse.")
    built = vertex.build_count_tokens_request(client, context(client, GEMINI), "")
    sent = orjson.loads(built.body)
    assert set(sent) == {"contents", "systemInstruction", "tools"}


def test_only_the_betas_vertex_takes_reach_it_and_none_reach_its_counting() -> None:
    vertex = provider()
    sent = (
        "claude-code-20250219,advanced-tool-use-2025-11-20,effort-2025-11-24,"
        "interleaved-thinking-2025-05-14,prompt-caching-scope-2026-01-05"
    )
    client, _ = ask(CLAUDE)
    claude = vertex.build_request(client, context(client, CLAUDE, **{"anthropic-beta": sent}), "")
    # Vertex refuses a request with any beta it does not take ("Unexpected value(s)"), and its
    # own name for tool search is Bedrock's too.
    assert claude.headers["anthropic-beta"] == (
        "tool-search-tool-2025-10-19,interleaved-thinking-2025-05-14"
    )
    counting = vertex.build_count_tokens_request(
        client, context(client, CLAUDE, **{"anthropic-beta": sent}), ""
    )
    assert "anthropic-beta" not in counting.headers


def test_anthropic_beta_forwarded_to_claude_only() -> None:
    vertex = provider()
    beta = {"anthropic-beta": "context-1m-2025-08-07", "anthropic-version": "2023-06-01"}
    client, _ = ask(CLAUDE)
    claude = vertex.build_request(client, context(client, CLAUDE, **beta), "")
    assert claude.headers["anthropic-beta"] == "context-1m-2025-08-07"
    assert "anthropic-version" not in claude.headers  # a body field on Vertex
    client, _ = ask(GEMINI)
    gemini = vertex.build_request(client, context(client, GEMINI, **beta), "")
    assert "anthropic-beta" not in gemini.headers
    assert "x-goog-api-key" not in gemini.headers  # the identity signs instead


def test_replies_and_counts_per_publisher() -> None:
    vertex = provider()
    client, _ = ask(GEMINI)
    assert isinstance(vertex.new_reply(context(client, GEMINI)), TranslatingReply)
    client, _ = ask(CLAUDE)
    assert not isinstance(vertex.new_reply(context(client, CLAUDE)), TranslatingReply)
    assert vertex.parse_count_tokens(b'{"input_tokens": 12}') == 12
    assert vertex.parse_count_tokens(b'{"totalTokens": 31, "totalBillableCharacters": 9}') == 31
    for unusable in (b"[]", b"<html>", b'{"totalTokens": "many"}'):
        with pytest.raises(UpstreamError):
            vertex.parse_count_tokens(unusable)


# --- errors ---------------------------------------------------------------------------------


def _error(reply: fake_vertex.PlatformReply) -> Any:
    return provider().error_from_response(reply.status, {}, json.dumps(reply.body).encode())


def test_permission_denied_names_permission_resource_and_role() -> None:
    resource = f"projects/p-1/locations/global/publishers/anthropic/models/{CLAUDE}"
    error = _error(fake_vertex.permission_denied(resource))
    assert isinstance(error, PermissionDenied) and error.status == 403
    assert error.error_type == "permission_error"
    assert "aiplatform.endpoints.predict" in error.message
    assert resource in error.message
    assert "roles/aiplatform.user" in error.message


def test_permission_denied_without_details_reads_the_message() -> None:
    body = {
        "error": {
            "code": 403,
            "status": "PERMISSION_DENIED",
            "message": "Permission 'aiplatform.endpoints.predict' denied on resource "
            "'//aiplatform.googleapis.com/projects/x/locations/global/publishers/google/"
            "models/gemini-2.5-pro' (or it may not exist).",
        }
    }
    error = provider().error_from_response(403, {}, json.dumps(body).encode())
    assert isinstance(error, PermissionDenied)
    assert "'projects/x/locations/global/publishers/google/models/gemini-2.5-pro'" in error.message


def test_rejected_token_is_an_authentication_error_naming_adc() -> None:
    error = _error(fake_vertex.unauthenticated())
    assert isinstance(error, AuthenticationFailed) and error.status == 401
    assert "Application Default Credentials" in error.message


def test_claude_refusal_passes_through_as_anthropic_wrote_it() -> None:
    reply = fake_vertex.claude_refusal(400, "invalid_request_error", "model: Extra inputs")
    error = _error(reply)
    assert isinstance(error, AnthropicUpstreamError)
    assert error.json_body() == json.dumps(reply.body).encode()


def test_quota_is_a_rate_limit_with_the_platform_words() -> None:
    error = provider().error_from_response(
        429,
        {"retry-after": "5"},
        json.dumps(fake_vertex.quota_exceeded("anthropic-claude-sonnet-4-5").body).encode(),
    )
    assert isinstance(error, RateLimited) and error.retry_after == "5"
    assert error.message.startswith("vertex: Quota exceeded")


def test_gemini_prompt_too_long_keeps_anthropic_wording() -> None:
    body = {
        "error": {
            "code": 400,
            "status": "INVALID_ARGUMENT",
            "message": "The input token count (1196265) exceeds the maximum number of tokens "
            "allowed (1048576).",
        }
    }
    error = provider().error_from_response(400, {}, json.dumps(body).encode())
    assert isinstance(error, InvalidRequest)
    assert error.message.startswith("prompt is too long: 1196265 tokens > 1048576 maximum")


def test_a_body_that_is_not_json_maps_by_status() -> None:
    error = provider().error_from_response(502, {}, b"<html>Bad Gateway</html>")
    assert isinstance(error, UpstreamError) and error.status == 502
    assert "Bad Gateway" in error.message
