"""OpenAI chunks and completions -> Anthropic events, from real wire samples and edge cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic.types
import pytest
from ai_proxy.anthropic.accumulate import accumulate
from ai_proxy.errors import AuthenticationFailed, InvalidRequest, RateLimited, UpstreamError
from ai_proxy.providers.openai.response import OpenAIStreamTranslator
from ai_proxy.providers.tool_names import ToolNames, to_upstream_tool_name
from ai_proxy.sse import SSEDecoder, encode_events

from tests.fakes.openai import Answer, render_chunks, render_completion
from tests.sse_grammar import check_stream

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openai"
Event = dict[str, Any]


def translator(names: ToolNames | None = None) -> OpenAIStreamTranslator:
    return OpenAIStreamTranslator("msg_test", "gpt-4o", names)


def stream(raw: bytes, names: ToolNames | None = None, *, split: int = 0) -> list[Event]:
    """Feed raw SSE bytes (optionally in `split`-byte network chunks) the way the gateway does."""
    subject, decoder = translator(names), SSEDecoder()
    pieces = [raw[i : i + split] for i in range(0, len(raw), split)] if split else [raw]
    events: list[Event] = []
    for piece in pieces:
        for event in decoder.feed(piece):
            events.extend(subject.feed(event))
    assert not decoder.pending()
    events.extend(subject.finish())
    check_stream(encode_events(events))  # Anthropic's grammar: blocks nested and in order
    return events


def sse(*payloads: Any, done: bool = True) -> bytes:
    lines = [f"data: {json.dumps(p)}\n\n" for p in payloads]
    return ("".join(lines) + ("data: [DONE]\n\n" if done else "")).encode()


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}
    return {"object": "chat.completion.chunk", "choices": [choice], "usage": None}


def usage_chunk(prompt: int = 20, completion: int = 9, cached: int = 0) -> dict[str, Any]:
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    return {"object": "chat.completion.chunk", "choices": [], "usage": usage}


def call(
    index: int, fragment: str, *, name: str | None = None, id: str | None = None
) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": fragment}
    if name is not None:
        function["name"] = name
    entry: dict[str, Any] = {"index": index, "function": function}
    if id is not None:
        entry |= {"id": id, "type": "function"}
    return chunk({"tool_calls": [entry]})


def message(events: list[Event]) -> dict[str, Any]:
    result = accumulate(events)
    anthropic.types.Message.model_validate(result)  # what the SDK will parse
    return result


def without_ids(message: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key != "id"}


def deltas(events: list[Event], kind: str) -> list[Any]:
    field = {"text_delta": "text", "input_json_delta": "partial_json"}[kind]
    return [
        (e["index"], e["delta"][field])
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == kind
    ]


# --- real samples ----------------------------------------------------------------------------


def test_text_stream_sample() -> None:
    events = stream((FIXTURES / "text_stream.sse").read_bytes())
    assert events[0]["message"]["usage"]["input_tokens"] == 0  # OpenAI reports usage last
    assert deltas(events, "text_delta") == [
        (0, "Hello"),
        (0, "!"),
        (0, " How can I help you today?"),
    ]
    assert events[-2] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {
            "input_tokens": 93,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 1024,
            "output_tokens": 10,
        },
    }


@pytest.mark.parametrize("split", [0, 1, 7, 100])
def test_streamed_and_whole_answers_agree(split: int) -> None:
    for name in ("text", "parallel_tool_calls"):
        streamed = message(stream((FIXTURES / f"{name}_stream.sse").read_bytes(), split=split))
        whole = message(
            translator().translate_body((FIXTURES / f"{name}_completion.json").read_bytes())
        )
        assert without_ids(streamed) == without_ids(whole)


def test_parallel_tool_calls_sample() -> None:
    events = stream((FIXTURES / "parallel_tool_calls_stream.sse").read_bytes())
    assert deltas(events, "input_json_delta") == [
        (0, '{"lo'),
        (0, 'cation": "Par'),
        (0, 'is, France"}'),
        (1, '{"location"'),
        (1, ': "Bogotá, Colombia"}'),
    ]
    result = message(events)
    assert result["stop_reason"] == "tool_use"
    assert result["content"] == [
        {
            "type": "tool_use",
            "id": "toolu_oai_call_Dn2RJJSxzDm49vlVTehseJ0k",
            "name": "get_weather",
            "input": {"location": "Paris, France"},
        },
        {
            "type": "tool_use",
            "id": "toolu_oai_call_wP3c5Vn4nkxGmf2kCbhNNPgK",
            "name": "get_weather",
            "input": {"location": "Bogotá, Colombia"},
        },
    ]


def test_refusal_sample() -> None:
    result = message(
        translator().translate_body((FIXTURES / "refusal_completion.json").read_bytes())
    )
    assert result["stop_reason"] == "refusal"
    assert result["content"] == [
        {"type": "text", "text": "I'm sorry, I can't assist with that request."}
    ]


def test_reasoning_usage_sample() -> None:
    result = message(
        translator().translate_body((FIXTURES / "reasoning_completion.json").read_bytes())
    )
    # reasoning tokens are already inside completion_tokens; cached ones are apart from input
    assert result["usage"] == {
        "input_tokens": 128,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 1920,
        "output_tokens": 850,
    }
    assert result["content"] == [{"type": "text", "text": "The answer is 42."}]
    assert result["model"] == "gpt-4o"  # the client's model name, not the upstream's


def test_whole_answer_carries_usage_in_message_start_too() -> None:
    events = translator().translate_body((FIXTURES / "text_completion.json").read_bytes())
    assert events[0]["message"]["usage"]["cache_read_input_tokens"] == 1024


def test_streamed_message_start_carries_the_local_input_count_counted_once() -> None:
    counted: list[int] = []

    def count_input() -> int:
        counted.append(1)
        return 57

    subject, decoder = OpenAIStreamTranslator("msg_1", "gpt-4o", None, count_input), SSEDecoder()
    raw = sse(
        chunk({"content": "Hi"}),
        chunk({"content": " there"}),
        chunk(finish="stop"),
        usage_chunk(prompt=60),
    )
    events = [e for event in decoder.feed(raw) for e in subject.feed(event)]
    assert events[0]["message"]["usage"]["input_tokens"] == 57
    assert events[-2]["usage"]["input_tokens"] == 60  # OpenAI's own count is the final one
    assert counted == [1]


def test_a_whole_answer_never_counts_locally() -> None:
    def count_input() -> int:
        raise AssertionError("a whole answer has OpenAI's usage")

    subject = OpenAIStreamTranslator("msg_1", "gpt-4o", None, count_input)
    events = subject.translate_body((FIXTURES / "text_completion.json").read_bytes())
    assert events[0]["type"] == "message_start"


def test_a_stream_without_usage_keeps_the_local_count_to_the_end() -> None:
    subject = OpenAIStreamTranslator("msg_1", "gpt-4o", None, lambda: 33)
    events = [
        e for p in (chunk({"content": "Hi"}), chunk(finish="stop")) for e in subject.feed_payload(p)
    ]
    events += subject.finish()
    assert events[-2]["usage"]["input_tokens"] == 33


@pytest.mark.parametrize("streamed", [False, True])
def test_reasoning_spent_on_a_max_tokens_probe_is_a_max_tokens_stop(streamed: bool) -> None:
    """Claude Code's `max_tokens: 1` probe on o3: all of it goes on reasoning, no content."""
    answer = Answer(finish_reason="length", completion_tokens=1, reasoning_tokens=1)
    subject = translator()
    if streamed:
        events = [e for c in render_chunks(answer, "o3", True) for e in subject.feed_payload(c)]
        events += subject.finish()
        check_stream(encode_events(events))
    else:
        events = subject.feed_payload(render_completion(answer, "o3")) + subject.finish()
    result = message(events)
    assert result["stop_reason"] == "max_tokens" and result["content"] == []
    assert result["usage"]["output_tokens"] == 1


# --- stop reasons ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
        ("tool_calls", "end_turn"),
    ],
)
def test_finish_reasons(finish: str, stop_reason: str) -> None:
    events = stream(sse(chunk({"content": "Hi"}), chunk(finish=finish), usage_chunk()))
    assert message(events)["stop_reason"] == stop_reason


def test_forced_tool_call_ending_with_stop_is_tool_use() -> None:
    # With tool_choice naming a function OpenAI ends with finish_reason "stop".
    raw = sse(
        call(0, '{"city":"Paris"}', name="get_weather", id="call_1"),
        chunk(finish="stop"),
        usage_chunk(),
    )
    assert message(stream(raw))["stop_reason"] == "tool_use"


def test_streamed_refusal() -> None:
    raw = sse(
        chunk({"refusal": "I can't"}),
        chunk({"refusal": " help with that."}),
        chunk(finish="stop"),
        usage_chunk(),
    )
    result = message(stream(raw))
    assert result["content"] == [{"type": "text", "text": "I can't help with that."}]
    assert result["stop_reason"] == "refusal"


# --- text edge cases -------------------------------------------------------------------------


def test_whitespace_before_tool_calls_is_not_a_block() -> None:
    raw = sse(
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "\n\n"}),
        call(0, "{}", name="list_files", id="call_1"),
        chunk(finish="tool_calls"),
        usage_chunk(),
    )
    result = message(stream(raw))
    assert [block["type"] for block in result["content"]] == ["tool_use"]


def test_whitespace_only_answer_has_no_blocks() -> None:
    result = message(stream(sse(chunk({"content": " \n"}), chunk(finish="stop"), usage_chunk())))
    assert result["content"] == []


def test_leading_whitespace_is_kept_once_text_arrives() -> None:
    raw = sse(
        chunk({"content": "\n"}),
        chunk({"content": "  x"}),
        chunk({"content": " "}),
        chunk(finish="stop"),
        usage_chunk(),
    )
    assert message(stream(raw))["content"] == [{"type": "text", "text": "\n  x "}]


def test_text_then_tool_call_then_text() -> None:
    raw = sse(
        chunk({"content": "Let me look."}),
        call(0, '{"path": "a"}', name="read", id="call_1"),
        chunk({"content": "Done."}),
        chunk(finish="tool_calls"),
        usage_chunk(),
    )
    content = message(stream(raw))["content"]
    assert [(b["type"], b.get("text") or b.get("input")) for b in content] == [
        ("text", "Let me look."),
        ("tool_use", {"path": "a"}),
        ("text", "Done."),
    ]


# --- parallel and interleaved tool calls -----------------------------------------------------


def test_interleaved_fragments_are_delivered_in_a_valid_order() -> None:
    raw = sse(
        call(0, '{"a": ', name="first", id="call_A"),
        call(1, '{"b": ', name="second", id="call_B"),
        call(0, "1}"),
        call(1, "2}"),
        call(2, '{"c": 3}', name="third", id="call_C"),
        chunk(finish="tool_calls"),
        usage_chunk(),
    )
    events = stream(raw)  # check_stream inside: each block stops before the next starts
    assert deltas(events, "input_json_delta") == [
        (0, '{"a": '),
        (0, "1}"),  # call 0 stays open while call 1 is buffered
        (1, '{"b": '),
        (1, "2}"),
        (2, '{"c": 3}'),
    ]
    assert [(b["name"], b["input"]) for b in message(events)["content"]] == [
        ("first", {"a": 1}),
        ("second", {"b": 2}),
        ("third", {"c": 3}),
    ]


def test_buffered_call_waits_until_the_end_when_the_open_one_never_completes() -> None:
    raw = sse(
        call(0, '{"a": ', name="first", id="call_A"),
        call(1, '{"b": 2}', name="second", id="call_B"),
        call(0, '"x"'),
        chunk(finish="length"),
        usage_chunk(),
    )
    events = stream(raw)
    assert deltas(events, "input_json_delta") == [(0, '{"a": '), (0, '"x"'), (1, '{"b": 2}')]
    assert events[-2]["delta"]["stop_reason"] == "max_tokens"


def test_text_arriving_inside_an_unfinished_call_follows_it() -> None:
    raw = sse(
        call(0, '{"a": ', name="first", id="call_A"),
        chunk({"content": "note"}),
        call(0, "1}"),
        chunk(finish="tool_calls"),
        usage_chunk(),
    )
    content = message(stream(raw))["content"]
    assert [b["type"] for b in content] == ["tool_use", "text"]
    assert content[0]["input"] == {"a": 1} and content[1]["text"] == "note"


def test_more_arguments_for_a_finished_call_is_an_upstream_error() -> None:
    subject, decoder = translator(), SSEDecoder()
    raw = sse(
        call(0, "{}", name="first", id="call_A"),
        call(1, "{}", name="second", id="call_B"),
        call(0, " "),  # whitespace after a complete value is harmless
        call(0, "x"),
        done=False,
    )
    with pytest.raises(UpstreamError, match="complete JSON"):
        for event in decoder.feed(raw):
            subject.feed(event)


def test_tool_names_are_mapped_back_and_odd_ids_replaced() -> None:
    long_name = "mcp__server__" + "x" * 70
    short = to_upstream_tool_name(long_name)
    raw = sse(call(0, "{}", name=short, id="call 1/2"), chunk(finish="tool_calls"), usage_chunk())
    block = message(stream(raw, ToolNames([long_name])))["content"][0]
    assert block["name"] == long_name
    assert block["id"].startswith("toolu_")


def test_each_fragment_becomes_one_input_json_delta() -> None:
    pieces = ['{"q', '": "a', " b", '"}']
    raw = sse(
        call(0, "", name="search", id="call_1"),
        *(call(0, p) for p in pieces),
        chunk(finish="tool_calls"),
        usage_chunk(),
    )
    events = stream(raw)
    assert [text for _, text in deltas(events, "input_json_delta")] == pieces
    assert message(events)["content"][0]["input"] == {"q": "a b"}


# --- ends of streams -------------------------------------------------------------------------


def test_cut_stream_is_an_upstream_error() -> None:
    subject, decoder = translator(), SSEDecoder()
    for event in decoder.feed(sse(chunk({"content": "Hel"}), done=False)):
        subject.feed(event)
    with pytest.raises(UpstreamError, match="ended before it was finished"):
        subject.finish()


def test_done_without_finish_reason_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError, match="ended before it was finished"):
        stream(sse(chunk({"content": "Hel"})))


def test_empty_stream_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError, match="empty"):
        translator().finish()


def test_finish_without_done_still_closes() -> None:
    result = message(
        stream(sse(chunk({"content": "ok"}), chunk(finish="stop"), usage_chunk(5, 2), done=False))
    )
    assert result["usage"]["output_tokens"] == 2 and result["stop_reason"] == "end_turn"


def test_message_stop_is_sent_at_done_and_nothing_after() -> None:
    subject, decoder = translator(), SSEDecoder()
    events: list[Event] = []
    for event in decoder.feed(sse(chunk({"content": "ok"}), chunk(finish="stop"), usage_chunk())):
        events.extend(subject.feed(event))
    assert events[-1] == {"type": "message_stop"}
    assert subject.finish() == []
    assert subject.feed_payload(chunk({"content": "late"})) == []


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {"message": "Rate limit reached", "type": "tokens", "code": "rate_limit_exceeded"},
            RateLimited,
        ),
        ({"message": "bad", "type": "invalid_request_error", "code": None}, InvalidRequest),
        (
            {"message": "The server had an error", "type": "server_error", "code": None},
            UpstreamError,
        ),
        (
            {"message": "no key", "type": "invalid_request_error", "code": "invalid_api_key"},
            InvalidRequest,
        ),
    ],
)
def test_error_inside_a_stream(error: dict[str, Any], expected: type[Exception]) -> None:
    subject = translator()
    subject.feed_payload(chunk({"content": "Hi"}))
    with pytest.raises(expected) as caught:
        subject.feed_payload({"error": {**error, "param": None}})
    assert error["message"] in str(caught.value)
    assert not isinstance(caught.value, AuthenticationFailed)
