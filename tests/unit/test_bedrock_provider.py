"""Bedrock, sans IO: the URL and body under Bedrock's rules, CountTokens, the reply's framing."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest
from ai_proxy.anthropic.envelope import ClientRequest
from ai_proxy.config import Config
from ai_proxy.errors import ProviderNotConfigured, UpstreamError
from ai_proxy.observability import RequestRecord
from ai_proxy.providers.base import RequestContext
from ai_proxy.providers.bedrock import BedrockProvider
from ai_proxy.providers.bedrock.request import count_tokens_path, invoke_path

from tests.fakes.bedrock import body_problem, chunk_message

PROFILE = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


def provider(**table: Any) -> BedrockProvider:
    config = Config.model_validate({"providers": {"bedrock": {"enabled": True, **table}}})
    return BedrockProvider(config.providers.get("bedrock"))


def request_for(**fields: Any) -> tuple[ClientRequest, RequestContext]:
    payload = {"model": "house", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    client = ClientRequest.from_body(orjson.dumps({**payload, **fields}))
    return client, RequestContext("house", PROFILE, "req_1", client_request=client)


def test_model_ids_are_quoted_whole_in_the_path() -> None:
    assert invoke_path(PROFILE, False) == (
        "/model/global.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"
    )
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
    assert invoke_path(arn, True).endswith("%2Fabc/invoke-with-response-stream")
    # CountTokens takes the foundation model, not the profile.
    assert count_tokens_path(PROFILE) == (
        "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens"
    )


@pytest.mark.parametrize("stream", [False, True])
def test_the_body_follows_bedrocks_rules(stream: bool) -> None:
    client, context = request_for(stream=stream, metadata={"user_id": "u1"})
    built = provider(region="eu-west-1").build_request(client, context, "")
    body = json.loads(built.body)
    assert body_problem(body) is None
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in body and "stream" not in body
    assert body["metadata"] == {"user_id": "u1"}  # everything else as the client sent it
    assert built.url.startswith("https://bedrock-runtime.eu-west-1.amazonaws.com/model/")
    assert built.stream is stream
    assert built.stream_content_type == "application/vnd.amazon.eventstream"
    assert "authorization" not in built.headers  # the identity signs it


def test_betas_bedrock_takes_become_the_anthropic_beta_list(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, context = request_for()
    context.forward_headers = {
        "anthropic-beta": " interleaved-thinking-2025-05-14 ,claude-code-20250219,"
        "context-1m-2025-08-07,,prompt-caching-scope-2026-01-05"
    }
    with caplog.at_level("INFO", "ai_proxy.relay"):
        body = json.loads(provider(region="us-east-1").build_request(client, context, "").body)
    # Bedrock refuses a request carrying a beta it does not take ("invalid beta flag"), and
    # Claude Code sends Anthropic-only ones: those are left out, and each is logged once.
    assert body["anthropic_beta"] == ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"]
    assert body_problem(body) is None
    assert "'claude-code-20250219' is not forwarded" in caplog.text
    assert "'prompt-caching-scope-2026-01-05' is not forwarded" in caplog.text


def test_anthropic_s_name_of_tool_search_is_sent_as_bedrock_s() -> None:
    client, context = request_for()
    context.forward_headers = {
        "anthropic-beta": "advanced-tool-use-2025-11-20,tool-search-tool-2025-10-19"
    }
    body = json.loads(provider(region="us-east-1").build_request(client, context, "").body)
    assert body["anthropic_beta"] == ["tool-search-tool-2025-10-19"]


def test_the_betas_forwarded_are_configurable_and_the_fake_refuses_the_others() -> None:
    client, context = request_for()
    context.forward_headers = {"anthropic-beta": "new-feature-2026-11-01"}
    taken = provider(region="us-east-1", betas=["new-feature-2026-11-01"])
    body = json.loads(taken.build_request(client, context, "").body)
    assert body["anthropic_beta"] == ["new-feature-2026-11-01"]
    refused = body_problem(body)
    assert refused is not None and "invalid beta flag" in refused.message
    assert "anthropic_beta" not in json.loads(
        provider(region="us-east-1").build_request(client, context, "").body
    )


def test_count_tokens_wraps_the_invoke_body() -> None:
    client = ClientRequest.from_body(orjson.dumps({"model": "house", "messages": []}))
    context = RequestContext("house", PROFILE, "req_1", client_request=client)
    built = provider(region="us-east-1").build_count_tokens_request(client, context, "")
    inner = json.loads(base64.b64decode(json.loads(built.body)["input"]["invokeModel"]["body"]))
    assert body_problem(inner) is None  # max_tokens added: InvokeModel's schema requires it
    assert provider(region="us-east-1").parse_count_tokens(b'{"inputTokens": 17}') == 17
    with pytest.raises(UpstreamError, match="inputTokens"):
        provider(region="us-east-1").parse_count_tokens(b"{}")


def test_an_api_key_is_a_bearer_token_and_no_identity() -> None:
    keyed = provider(region="us-east-1", api_key="ABSK-key")
    assert keyed.identity is None
    client, context = request_for()
    assert keyed.build_request(client, context, "ABSK-key").headers["authorization"] == (
        "Bearer ABSK-key"
    )
    assert provider(region="us-east-1").identity is not None
    disabled = Config.model_validate({}).providers.get("bedrock")
    assert BedrockProvider(disabled).identity is None


def test_region_from_config_then_aws_region_then_aws_default_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert provider().base_url == "https://bedrock-runtime.ap-south-1.amazonaws.com"
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert provider().base_url == "https://bedrock-runtime.eu-central-1.amazonaws.com"
    assert provider(region="us-west-2").base_url.startswith("https://bedrock-runtime.us-west-2.")
    assert provider(base_url="http://127.0.0.1:9").base_url == "http://127.0.0.1:9"


def test_no_region_is_said_on_the_request_not_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    regionless = provider()
    assert regionless.base_url == ""
    client, context = request_for()
    with pytest.raises(ProviderNotConfigured, match="AWS_REGION"):
        regionless.build_request(client, context, "")
    assert regionless.identity is not None and not regionless.identity.refresh()


# --- the reply --------------------------------------------------------------------------------

START: dict[str, Any] = {
    "type": "message_start",
    "message": {"model": "claude-sonnet-4-5", "usage": {"input_tokens": 5}},
}
DELTA = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}}
STOP = {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 5}}


def test_the_reply_writes_anthropic_sse_without_bedrocks_metrics() -> None:
    _, context = request_for()
    reply, record = provider(region="us-east-1").new_reply(context), new_record()
    decoder = reply.decoder()
    raw = b"".join(chunk_message(orjson.dumps(event)) for event in (START, DELTA, STOP))
    sent = b"".join(reply.feed(raw, decoder.feed(raw), record))
    frames = [
        (block.split(b"\n")[0], json.loads(block.split(b"data: ", 1)[1]))
        for block in sent.strip().split(b"\n\n")
    ]
    assert frames == [
        (b"event: message_start", {**START, "message": {**START["message"], "model": "house"}}),
        (b"event: content_block_delta", DELTA),
        (b"event: message_stop", {"type": "message_stop"}),
    ]
    assert record.first_token is not None and record.usage == {"input_tokens": 5}
    assert reply.finish(record) == b""


def test_the_reply_refuses_a_stream_cut_before_message_stop() -> None:
    _, context = request_for()
    reply, record = provider(region="us-east-1").new_reply(context), new_record()
    raw = chunk_message(orjson.dumps(START))
    b"".join(reply.feed(raw, reply.decoder().feed(raw), record))
    with pytest.raises(UpstreamError, match="bedrock's stream ended before message_stop"):
        reply.finish(record)


def new_record() -> RequestRecord:
    return RequestRecord("req_1", "POST", "/v1/messages", 0.0)
