"""The Anthropic pass-through, sans IO: the body we forward, headers, errors, the observer."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from ai_proxy.anthropic.envelope import ClientRequest
from ai_proxy.config import ProviderConfig
from ai_proxy.errors import UpstreamError
from ai_proxy.observability import RequestRecord
from ai_proxy.providers.anthropic import AnthropicProvider
from ai_proxy.providers.anthropic.request import is_anthropic_signature, to_anthropic_body
from ai_proxy.providers.base import Reply, RequestContext
from ai_proxy.providers.gemini.signatures import to_our_signature
from ai_proxy.sse import SSEDecoder, complete_events_end

ANTHROPIC_SIGNATURE = "EqQBCkgIARABGAIiQLZ1r+/7Qk9bc3mZ0dGVzdA=="
GEMINI_SIGNATURE = to_our_signature("CiQB0e2Kb1c2lnbmF0dXJl", "gemini-2.5-flash")


def body(**fields: Any) -> bytes:
    payload = {"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": [], **fields}
    return json.dumps(payload, indent=1).encode()  # indented: a re-serialization would show


def context(raw: bytes, upstream: str = "claude-sonnet-4-6", **extra: Any) -> RequestContext:
    client_model = orjson.loads(raw)["model"]
    client = ClientRequest.from_body(raw)
    return RequestContext(client_model, upstream, "req_1", client_request=client, **extra)


def tool_loop(first_assistant_blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "list files"},
        {
            "role": "assistant",
            "content": [
                *first_assistant_blocks,
                {"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt"}],
        },
    ]


# --- which signatures are Anthropic's ---------------------------------------------------------


@pytest.mark.parametrize(
    ("signature", "anthropic"),
    [
        (ANTHROPIC_SIGNATURE, True),
        ("ErUBCkYIBxgCKkB-url_safe-too", True),
        (GEMINI_SIGNATURE, False),  # every gateway-minted signature is namespaced "<provider>:"
        ("openai:rs_abc", False),
        ("", False),  # a provider that signs nothing: Anthropic cannot verify it
        (None, False),
        ("has space", False),
    ],
)
def test_anthropic_signature_provenance(signature: object, anthropic: bool) -> None:
    assert is_anthropic_signature(signature) is anthropic


# --- the forwarded body -----------------------------------------------------------------------


def test_anthropic_body_unchanged_is_forwarded_byte_for_byte() -> None:
    raw = body(
        messages=[{"role": "user", "content": "hi"}],
        some_future_beta_field={"kept": True},
        metadata={"user_id": "u1"},
    )
    assert to_anthropic_body(raw, "claude-sonnet-4-6") is raw


def test_sampling_parameters_are_removed() -> None:
    """The current API takes none, and Opus 4.7 refuses them; other formats always send them."""
    raw = body(messages=[{"role": "user", "content": "hi"}], temperature=1, top_p=0.95, top_k=64)
    sent = orjson.loads(to_anthropic_body(raw, "claude-opus-4-7"))
    assert not {"temperature", "top_p", "top_k"} & sent.keys()
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    # A null one is a key the current API refuses all the same.
    null = body(messages=[{"role": "user", "content": "hi"}], temperature=None)
    assert "temperature" not in orjson.loads(to_anthropic_body(null, "claude-sonnet-4-6"))


def test_anthropic_body_model_renamed_by_routing() -> None:
    raw = body(model="sonnet", messages=[{"role": "user", "content": "hi"}], extra_field=[1, 2.5])
    sent = orjson.loads(to_anthropic_body(raw, "claude-sonnet-4-6"))
    assert sent == {**orjson.loads(raw), "model": "claude-sonnet-4-6"}


def test_anthropic_body_strips_only_foreign_thinking() -> None:
    messages = [
        {"role": "user", "content": "q1"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "gemini thought", "signature": GEMINI_SIGNATURE},
                {"type": "thinking", "thinking": "", "signature": GEMINI_SIGNATURE},
                {"type": "thinking", "thinking": "unsigned", "signature": ""},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "a1"},
            ],
        },
        {"role": "user", "content": "q2"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "claude", "signature": ANTHROPIC_SIGNATURE},
                {"type": "text", "text": "a2", "cache_control": {"type": "ephemeral"}},
            ],
        },
        {"role": "user", "content": "q3"},
    ]
    raw = body(messages=messages)
    sent = orjson.loads(to_anthropic_body(raw, "claude-sonnet-4-6"))
    assert sent["messages"][1]["content"] == [
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "a1"},
    ]
    assert sent["messages"][3] == messages[3]
    assert [m["content"] for m in sent["messages"][::2]] == ["q1", "q2", "q3"]


def test_anthropic_thinking_turned_off_when_stripping_breaks_the_tool_loop() -> None:
    # Regression: Gemini's turn in an unfinished tool loop loses its thinking block, and
    # Anthropic refuses thinking-enabled requests whose last assistant turn starts without one.
    foreign = [{"type": "thinking", "thinking": "t", "signature": GEMINI_SIGNATURE}]
    raw = body(messages=tool_loop(foreign), thinking={"type": "enabled", "budget_tokens": 2048})
    sent = orjson.loads(to_anthropic_body(raw, "claude-sonnet-4-6"))
    assert "thinking" not in sent
    assert sent["messages"][1]["content"][0]["type"] == "tool_use"


def test_anthropic_thinking_turned_off_for_a_tool_loop_another_provider_began() -> None:
    # Regression: OpenAI returns no thinking, so the last assistant turn of a tool loop it
    # began has none; with thinking on, Anthropic refuses the request that continues it.
    # Claude Code's clear_thinking edit goes too: Anthropic refuses it without thinking.
    raw = body(
        messages=tool_loop([{"type": "text", "text": "Let me look."}]),
        thinking={"type": "adaptive", "display": "updates"},
        context_management={
            "edits": [
                {"type": "clear_thinking_20251015", "keep": "all"},
                {"type": "clear_tool_uses_20250919"},
            ]
        },
    )
    sent = orjson.loads(to_anthropic_body(raw, "claude-sonnet-4-6"))
    assert "thinking" not in sent
    assert sent["context_management"] == {"edits": [{"type": "clear_tool_uses_20250919"}]}
    assert sent["messages"] == orjson.loads(raw)["messages"]


ENABLED = {"type": "enabled", "budget_tokens": 2048}


@pytest.mark.parametrize(
    ("messages", "thinking"),
    [
        (
            tool_loop([{"type": "thinking", "thinking": "t", "signature": ANTHROPIC_SIGNATURE}]),
            ENABLED,
        ),
        (tool_loop([{"type": "redacted_thinking", "data": "opaque"}]), ENABLED),
        # The loop is finished (no tool_use in the last assistant turn): nothing required.
        ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], ENABLED),
        (tool_loop([]), {"type": "disabled"}),
    ],
)
def test_anthropic_body_untouched_when_thinking_can_stay(
    messages: list[Any], thinking: dict[str, Any]
) -> None:
    raw = body(messages=messages, thinking=thinking)
    assert to_anthropic_body(raw, "claude-sonnet-4-6") is raw


def test_anthropic_blank_text_blocks_removed() -> None:
    # Regression: Anthropic refuses empty and whitespace-only text blocks, which answers of
    # other providers leave in the history (the blank text before a tool call).
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "q"}, {"type": "text", "text": ""}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "\n\n"},
                {"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt"}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": " "}]},  # nothing left
    ]
    sent = orjson.loads(to_anthropic_body(body(messages=messages), "claude-sonnet-4-6"))
    assert sent["messages"][0]["content"] == [{"type": "text", "text": "q"}]
    assert [block["type"] for block in sent["messages"][1]["content"]] == ["tool_use"]
    assert sent["messages"][2:] == messages[2:]


# --- the upstream request ---------------------------------------------------------------------


def provider() -> AnthropicProvider:
    return AnthropicProvider(ProviderConfig(base_url="https://upstream.example"))


def test_anthropic_request_headers_key_and_default_version() -> None:
    raw = body(messages=[{"role": "user", "content": "hi"}])
    request = ClientRequest.from_body(raw)
    built = provider().build_request(request, context(raw), "sk-upstream")
    assert built.url == "https://upstream.example/v1/messages"
    assert built.headers == {
        "content-type": "application/json",
        "x-api-key": "sk-upstream",
        "anthropic-version": "2023-06-01",
    }
    assert built.body is raw and built.stream is False


def test_anthropic_request_forwards_version_beta_and_beta_query() -> None:
    raw = body(messages=[{"role": "user", "content": "hi"}], stream=True)
    request = ClientRequest.from_body(raw)
    forwarded = {"anthropic-version": "2026-10-21", "anthropic-beta": "a-2025,b-2026"}
    request = ClientRequest.from_body(raw, query="beta=true")
    ctx = context(raw, forward_headers=forwarded)
    built = provider().build_request(request, ctx, "sk-upstream")
    assert built.url == "https://upstream.example/v1/messages?beta=true"
    assert built.headers["anthropic-version"] == "2026-10-21"
    assert built.headers["anthropic-beta"] == "a-2025,b-2026"
    assert built.stream is True


def test_anthropic_count_tokens_request() -> None:
    raw = json.dumps({"model": "opus", "messages": [{"role": "user", "content": "hi"}]}).encode()
    request = ClientRequest.from_body(raw)
    built = provider().build_count_tokens_request(request, context(raw, "claude-opus-4-8"), "k")
    assert built.url == "https://upstream.example/v1/messages/count_tokens"
    assert orjson.loads(built.body)["model"] == "claude-opus-4-8"
    assert provider().parse_count_tokens(b'{"input_tokens": 42}') == 42
    with pytest.raises(UpstreamError):
        provider().parse_count_tokens(b'{"tokens": 42}')


# --- errors pass through ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type", "retryable"),
    [
        (400, "invalid_request_error", False),
        (401, "authentication_error", False),
        (429, "rate_limit_error", True),
        (500, "api_error", True),
        (529, "overloaded_error", True),
    ],
)
def test_anthropic_error_body_and_status_pass_through(
    status: int, error_type: str, retryable: bool
) -> None:
    raw = json.dumps(
        {"type": "error", "error": {"type": error_type, "message": "m"}, "request_id": "req_x"}
    ).encode()
    error = provider().error_from_response(status, {"retry-after": "7"}, raw)
    assert (error.status, error.error_type) == (status, error_type)
    assert error.try_next_target is retryable
    assert error.retry_same_target is retryable  # retried on the same target first
    assert error.json_body() == raw
    assert error.headers() == [(b"retry-after", b"7")]


def test_anthropic_error_that_is_not_anthropics_is_mapped() -> None:
    error = provider().error_from_response(503, {}, b"upstream connect error")
    assert (error.status, error.error_type) == (529, "overloaded_error")
    assert b"upstream connect error" in error.json_body()


# --- the relaying reply ------------------------------------------------------------------------


def frames(*events: dict[str, Any]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


START = {
    "type": "message_start",
    "message": {"usage": {"input_tokens": 30, "output_tokens": 1}, "model": "claude-x"},
}
DELTA = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}}
MESSAGE_DELTA = {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 12}}


def new_record() -> RequestRecord:
    return RequestRecord("req_1", "POST", "/v1/messages", 0.0)


def relay(raw: bytes) -> tuple[bytes, Reply, RequestRecord]:
    """What the client gets of `raw` (one chunk), the reply, and what the record noted."""
    reply, record = provider().new_reply(context(body(model="claude-x"))), new_record()
    sent = b"".join(reply.feed(raw, SSEDecoder().feed(raw), record))
    return sent, reply, record


def test_anthropic_reply_relays_bytes_and_notes_usage_and_first_token() -> None:
    raw = frames(START, DELTA, DELTA, MESSAGE_DELTA, {"type": "message_stop"})
    sent, reply, record = relay(raw)
    assert sent.partition(b"\n\n")[2] == raw.partition(b"\n\n")[2]  # after message_start
    assert record.usage == {"input_tokens": 30, "output_tokens": 12}
    assert record.first_token is not None
    assert reply.finish(record) == b""


def test_anthropic_reply_error_event_ends_cleanly() -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    _, reply, record = relay(frames(START, error))
    assert (record.error_type, record.error_message) == ("overloaded_error", "Overloaded")
    assert reply.finish(record) == b""


def test_anthropic_reply_tolerates_unexpected_shapes() -> None:
    odd: list[dict[str, Any]] = [
        {"type": "message_start", "message": {}},
        {"type": "message_delta", "usage": None},
    ]
    _, reply, record = relay(frames(*odd, {"type": "message_stop"}))
    assert record.usage == {}
    assert reply.finish(record) == b""


def test_anthropic_reply_refuses_a_cut_stream() -> None:
    _, reply, record = relay(frames(START, DELTA))
    with pytest.raises(UpstreamError, match="before message_stop"):
        reply.finish(record)
    _, empty, record = relay(b"")
    with pytest.raises(UpstreamError, match="empty"):
        empty.finish(record)


def test_anthropic_reply_non_streaming_body_reports_client_model() -> None:
    reply, record = provider().new_reply(context(body(model="sonnet"))), new_record()
    upstream = {"type": "message", "model": "claude-sonnet-4-6-20260101", "usage": {"x": 1}}
    sent = reply.body(json.dumps(upstream).encode(), record)
    assert orjson.loads(sent) == {**upstream, "model": "sonnet"}
    assert record.usage == {"x": 1}
    same = json.dumps({**upstream, "model": "sonnet"}, indent=2).encode()
    assert reply.body(same, new_record()) is same


# --- event boundaries for the raw relay ---------------------------------------------------------


@pytest.mark.parametrize(
    ("buffer", "end"),
    [
        (b"", 0),
        (b"event: a\ndata: 1", 0),
        (b"event: a\ndata: 1\n", 0),
        (b"event: a\ndata: 1\n\n", 18),
        (b"event: a\ndata: 1\n\nevent: b\nda", 18),
        (b"data: 1\r\n\r\ndata: 2\r\n", 11),
        (b"data: 1\r\rdata", 9),
        (b"data: 1\r\n\r", 10),  # the last CR may start a CRLF: harmless, bytes are unchanged
        (b"\ndata: 1", 1),
    ],
)
def test_anthropic_relay_cuts_only_after_complete_events(buffer: bytes, end: int) -> None:
    assert complete_events_end(buffer) == end
