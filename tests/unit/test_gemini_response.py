"""Gemini response chunks -> Anthropic events, streamed and not."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from ai_proxy.anthropic.accumulate import accumulate
from ai_proxy.errors import AuthenticationFailed, Overloaded, RateLimited, UpstreamError
from ai_proxy.providers.gemini.errors import from_gemini_error
from ai_proxy.providers.gemini.response import GeminiStreamTranslator
from ai_proxy.providers.tool_names import ToolNames, to_upstream_tool_name
from ai_proxy.sse import encode_events

from tests.sse_grammar import check_stream

USAGE = {"promptTokenCount": 12, "candidatesTokenCount": 7, "totalTokenCount": 19}


def chunk(
    parts: list[dict[str, Any]], finish: str | None = None, usage: dict[str, int] | None = None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": usage or USAGE,
        "modelVersion": "gemini-2.5-flash",
    }


def stream(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    translator = GeminiStreamTranslator("msg_1", "my-model", "gemini-2.5-flash")
    events = [e for c in chunks for e in translator.feed_payload(c)] + translator.finish()
    check_stream(encode_events(events))
    return events


def whole(response: dict[str, Any]) -> dict[str, Any]:
    return accumulate(
        GeminiStreamTranslator("msg_1", "my-model", "gemini-2.5-flash").translate_body(
            orjson.dumps(response)
        )
    )


def test_text_streams_as_deltas_and_matches_non_streaming() -> None:
    chunks = [chunk([{"text": "Hel"}]), chunk([{"text": "lo"}]), chunk([{"text": "!"}], "STOP")]
    events = stream(chunks)
    assert [e["delta"]["text"] for e in events if e["type"] == "content_block_delta"] == [
        "Hel",
        "lo",
        "!",
    ]
    assert events[0]["message"]["usage"]["input_tokens"] == 12
    message = accumulate(events)
    assert message["content"] == [{"type": "text", "text": "Hello!"}]
    assert message["stop_reason"] == "end_turn" and message["model"] == "my-model"
    assert message["usage"]["output_tokens"] == 7
    assert whole(chunk([{"text": "Hello!"}], "STOP")) == message


def test_function_calls_become_tool_use_with_full_arguments() -> None:
    parts: list[dict[str, Any]] = [
        {
            "functionCall": {"name": "Bash", "args": {"command": "ls /a"}},
            "thoughtSignature": "c2ln",
        },
        {"functionCall": {"name": "Bash", "args": {"command": "ls /b"}}},
    ]
    events = stream([chunk(parts, "STOP")])
    message = accumulate(events)
    kinds = [b["type"] for b in message["content"]]
    assert kinds == ["thinking", "tool_use", "tool_use"]
    assert message["content"][0] == {
        "type": "thinking",
        "thinking": "",
        "signature": "gemini:gemini-2.5-flash:c2ln",
    }
    first, second = message["content"][1], message["content"][2]
    assert first["input"] == {"command": "ls /a"} and second["input"] == {"command": "ls /b"}
    assert first["id"] != second["id"]
    for block in (first, second):
        assert block["id"].startswith("toolu_") and all(
            c.isalnum() or c in "_-" for c in block["id"]
        )
    assert message["stop_reason"] == "tool_use"


def test_thoughts_become_thinking_blocks_with_signatures() -> None:
    chunks = [
        chunk([{"text": "Plan: ", "thought": True}]),
        chunk([{"text": "do it", "thought": True, "thoughtSignature": "dGhvdWdodA=="}]),
        chunk([{"text": "Answer"}], "STOP", {**USAGE, "thoughtsTokenCount": 30}),
    ]
    message = accumulate(stream(chunks))
    assert message["content"] == [
        {
            "type": "thinking",
            "thinking": "Plan: do it",
            "signature": "gemini:gemini-2.5-flash:dGhvdWdodA==",
        },
        {"type": "text", "text": "Answer"},
    ]
    assert message["usage"]["output_tokens"] == 37


def test_cached_tokens_are_reported_as_cache_reads() -> None:
    usage = {"promptTokenCount": 100, "cachedContentTokenCount": 60, "candidatesTokenCount": 5}
    message = whole(chunk([{"text": "x"}], "STOP", usage))
    assert message["usage"]["input_tokens"] == 40
    assert message["usage"]["cache_read_input_tokens"] == 60


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [
        ("STOP", "end_turn"),
        ("MAX_TOKENS", "max_tokens"),
        ("SAFETY", "refusal"),
        ("RECITATION", "refusal"),
        ("PROHIBITED_CONTENT", "refusal"),
        ("BLOCKLIST", "refusal"),
    ],
)
def test_finish_reasons(finish: str, stop_reason: str) -> None:
    parts = [] if stop_reason == "refusal" else [{"text": "partial"}]
    assert whole(chunk(parts, finish))["stop_reason"] == stop_reason


def test_blocked_prompt_is_a_refusal() -> None:
    message = whole({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": USAGE})
    assert message["stop_reason"] == "refusal" and message["content"] == []


def test_malformed_function_call_is_a_clear_error() -> None:
    with pytest.raises(UpstreamError, match="MALFORMED_FUNCTION_CALL"):
        whole(chunk([], "MALFORMED_FUNCTION_CALL"))


def test_stream_without_finish_reason_is_truncated() -> None:
    translator = GeminiStreamTranslator("msg_1", "m", "gemini-2.5-flash")
    translator.feed_payload(chunk([{"text": "partial"}]))
    with pytest.raises(UpstreamError, match="ended before"):
        translator.finish()


def test_empty_text_parts_are_never_returned() -> None:
    message = whole(chunk([{"text": ""}, {"text": "x"}, {"text": ""}], "STOP"))
    assert message["content"] == [{"type": "text", "text": "x"}]


def test_error_inside_stream_is_raised() -> None:
    translator = GeminiStreamTranslator("msg_1", "m", "gemini-2.5-flash")
    with pytest.raises(Overloaded):
        translator.feed_payload(
            {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}
        )


def test_error_bodies_map_to_anthropic_errors() -> None:
    rate = from_gemini_error(
        429,
        orjson.dumps(
            {
                "error": {
                    "code": 429,
                    "message": "Quota exceeded",
                    "status": "RESOURCE_EXHAUSTED",
                    "details": [
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "16.5s"}
                    ],
                }
            }
        ),
    )
    assert isinstance(rate, RateLimited) and rate.retry_after == "17"
    bad_key = from_gemini_error(
        400,
        orjson.dumps(
            {
                "error": {
                    "code": 400,
                    "message": "API key not valid. Please pass a valid API key.",
                    "status": "INVALID_ARGUMENT",
                    "details": [{"reason": "API_KEY_INVALID"}],
                }
            }
        ),
    )
    assert isinstance(bad_key, AuthenticationFailed)
    html = from_gemini_error(502, b"<html><body>Bad Gateway</body></html>")
    assert html.status == 502 and "Bad Gateway" in html.message


def test_signatures_name_the_model_family_that_issued_them() -> None:
    translator = GeminiStreamTranslator("msg_1", "alias", "gemini-3-pro-preview")
    parts = [{"functionCall": {"name": "Bash", "args": {}}, "thoughtSignature": "c2ln"}]
    message = accumulate(translator.translate_body(orjson.dumps(chunk(parts, "STOP"))))
    assert message["content"][0]["signature"] == "gemini:gemini-3-pro:c2ln"


def test_shortened_tool_names_are_mapped_back_to_the_clients() -> None:
    long_name = "mcp__" + "server_" * 10 + "__tool"
    client_body = orjson.dumps(
        {"tools": [{"name": long_name, "input_schema": {}}, {"name": "Bash", "input_schema": {}}]}
    )
    translator = GeminiStreamTranslator(
        "msg_1", "m", "gemini-2.5-flash", ToolNames(client_body=client_body)
    )
    parts = [
        {"functionCall": {"name": to_upstream_tool_name(long_name), "args": {"a": 1}}},
        {"functionCall": {"name": "Bash", "args": {}}},
    ]
    message = accumulate(translator.translate_body(orjson.dumps(chunk(parts, "STOP"))))
    assert [b["name"] for b in message["content"]] == [long_name, "Bash"]


@pytest.mark.parametrize(
    ("parts", "finish"),
    [
        ([], "MISSING_THOUGHT_SIGNATURE"),
        ([], "MALFORMED_RESPONSE"),
        ([{"text": "half"}], "MALFORMED_RESPONSE"),
        ([], "IMAGE_OTHER"),
        ([], "NO_IMAGE"),
        ([], "OTHER"),
        ([], "A_REASON_FROM_THE_FUTURE"),
    ],
)
def test_finish_reasons_without_a_usable_answer_are_errors(
    parts: list[dict[str, Any]], finish: str
) -> None:
    with pytest.raises(UpstreamError, match=f"no usable answer \\({finish}\\)"):
        whole(chunk(parts, finish))


def test_an_unknown_finish_reason_after_an_answer_ends_the_turn() -> None:
    message = whole(chunk([{"text": "done"}], "A_REASON_FROM_THE_FUTURE"))
    assert message["stop_reason"] == "end_turn"


def test_max_tokens_spent_on_thinking_is_a_max_tokens_stop_with_no_blocks() -> None:
    """Claude Code's model-switch probe (max_tokens 1) on a thinking model."""
    usage = {"promptTokenCount": 5, "totalTokenCount": 6, "thoughtsTokenCount": 1}
    events = stream([chunk([], "MAX_TOKENS", usage)])
    message = accumulate(events)
    assert message["stop_reason"] == "max_tokens" and message["content"] == []
    assert message["usage"]["output_tokens"] == 1
    assert whole(chunk([], "MAX_TOKENS", usage)) == message


def test_an_empty_stop_is_an_empty_end_turn() -> None:
    message = whole(chunk([], "STOP"))
    assert message["stop_reason"] == "end_turn" and message["content"] == []
