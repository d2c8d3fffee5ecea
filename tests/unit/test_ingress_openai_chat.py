"""The OpenAI Chat Completions ingress: request, answer, stream and error translation."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from ai_proxy.anthropic.models import MessagesRequest
from ai_proxy.errors import (
    BillingError,
    GatewayError,
    InvalidRequest,
    NotFound,
    Overloaded,
    RateLimited,
)
from ai_proxy.ingress.base import IngressCall
from ai_proxy.ingress.openai_chat import OpenAIChatIngress
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.completion_create_params import CompletionCreateParamsStreaming

CALL = IngressCall(client_model="gpt-4o", request_id="req_1", created=1700000000)
INGRESS = OpenAIChatIngress()


def translate(payload: dict[str, Any]) -> dict[str, Any]:
    request = INGRESS.conversation(payload, CALL).messages_request
    MessagesRequest.model_validate(request)  # what the Messages path will read
    return request


def base(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], **fields}


def refused(payload: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        INGRESS.conversation(payload, CALL)
    assert words in caught.value.message


# --- request -----------------------------------------------------------------------------


def test_a_full_tool_conversation_is_translated() -> None:
    payload: CompletionCreateParamsStreaming = {
        "model": "gpt-4o",
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_completion_tokens": 500,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": "END",
        "user": "u-1",
        "parallel_tool_calls": False,
        "tool_choice": "required",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                    "strict": True,
                },
            }
        ],
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {
                "role": "tool",
                "tool_call_id": "call_2",
                "content": [{"type": "text", "text": "rain"}],
            },
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "Thanks"},
        ],
    }
    assert translate(dict(payload)) == {
        "model": "gpt-4o",
        "stream": True,
        "max_tokens": 500,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
        "system": [
            {"type": "text", "text": "Be brief."},
            {"type": "text", "text": "Answer in French."},
        ],
        "tools": [
            {
                "name": "get_weather",
                "description": "Weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                "strict": True,
            }
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "call_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                    {
                        "type": "tool_use",
                        "id": "call_2",
                        "name": "get_weather",
                        "input": {"city": "Rome"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_2",
                        "content": [{"type": "text", "text": "rain"}],
                    },
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
    }


def test_defaults_one_system_string_and_consecutive_users_merge() -> None:
    request = translate(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "S"},
                {"role": "user", "content": "a"},
                {"role": "user", "content": "b", "name": "bob"},
                {"role": "assistant", "content": "  "},
            ],
        }
    )
    assert request == {
        "model": "m",
        "stream": False,
        "max_tokens": 4096,
        "system": "S",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            }
        ],
    }


def test_max_completion_tokens_wins_over_deprecated_max_tokens() -> None:
    assert translate(base(max_tokens=10, max_completion_tokens=20))["max_tokens"] == 20
    assert translate(base(max_tokens=10))["max_tokens"] == 10


def test_images_files_and_cache_breakpoints() -> None:
    content = [
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
        {
            "type": "file",
            "file": {"filename": "r.pdf", "file_data": "data:application/pdf;base64,JVBE"},
        },
        {"type": "text", "text": "look", "prompt_cache_breakpoint": {"mode": "explicit"}},
    ]
    request = translate({"model": "m", "messages": [{"role": "user", "content": content}]})
    assert request["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
            "title": "r.pdf",
        },
        {"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}},
    ]


def test_assistant_refusal_and_echoed_reply_fields() -> None:
    messages = [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "a"}, {"type": "refusal", "refusal": "no"}],
            "refusal": None,
            "annotations": [],
            "audio": None,
            "reasoning_content": "thought",
        },
    ]
    request = translate({"model": "m", "messages": messages})
    assert request["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "no"}],
    }


@pytest.mark.parametrize(
    ("effort", "max_tokens", "thinking", "expected_max"),
    [
        ("none", None, {"type": "disabled"}, 4096),
        ("minimal", None, {"type": "disabled"}, 4096),
        ("low", None, {"type": "enabled", "budget_tokens": 2048}, 6144),
        ("high", None, {"type": "enabled", "budget_tokens": 16384}, 20480),
        ("medium", 5000, {"type": "enabled", "budget_tokens": 4999}, 5000),
        ("medium", 20000, {"type": "enabled", "budget_tokens": 8192}, 20000),
    ],
)
def test_reasoning_effort_becomes_a_thinking_budget(
    effort: str, max_tokens: int | None, thinking: dict[str, Any], expected_max: int
) -> None:
    request = translate(base(reasoning_effort=effort, max_completion_tokens=max_tokens))
    assert request["thinking"] == thinking
    assert request["max_tokens"] == expected_max


def test_response_format_json_schema_becomes_output_config() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    assert translate(base(response_format=fmt))["output_config"] == {
        "format": {"type": "json_schema", "schema": schema}
    }
    assert "output_config" not in translate(base(response_format={"type": "text"}))


def test_tool_choice_forms() -> None:
    tools = [
        {"type": "function", "function": {"name": "a"}},
        {"type": "function", "function": {"name": "b", "parameters": {"type": "object"}}},
    ]
    named = translate(
        base(tools=tools, tool_choice={"type": "function", "function": {"name": "a"}})
    )
    assert named["tool_choice"] == {"type": "tool", "name": "a"}
    assert named["tools"][0] == {"name": "a", "input_schema": {"type": "object", "properties": {}}}
    assert translate(base(tools=tools, tool_choice="none"))["tool_choice"] == {"type": "none"}
    allowed = {
        "type": "allowed_tools",
        "allowed_tools": {
            "mode": "auto",
            "tools": [{"type": "function", "function": {"name": "b"}}],
        },
    }
    restricted = translate(base(tools=tools, tool_choice=allowed))
    assert [tool["name"] for tool in restricted["tools"]] == ["b"]
    assert restricted["tool_choice"] == {"type": "auto"}
    assert "tool_choice" not in translate(base(tool_choice="auto"))


def test_advisory_fields_are_dropped() -> None:
    request = translate(
        base(
            metadata={"k": "v"},
            store=True,
            service_tier="auto",
            seed=1,
            n=1,
            logprobs=False,
            frequency_penalty=0,
            prompt_cache_key="k",
            parallel_tool_calls=True,
            modalities=["text"],
            prediction={"type": "content", "content": "x"},
            stream_options={"include_obfuscation": False},
        )
    )
    assert request == {
        "model": "gpt-4o",
        "stream": False,
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"n": 2}, "n: only 1"),
        ({"logprobs": True}, "logprobs: only False"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"verbosity": "low"}, "verbosity"),
        ({"logit_bias": {"1": 2}}, "logit_bias"),
        ({"audio": {"voice": "x", "format": "mp3"}}, "audio"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"function_call": "auto"}, "function_call"),
        ({"web_search_options": {}}, "web_search_options"),
        ({"moderation": {"model": "m"}}, "moderation"),
        ({"response_format": {"type": "json_object"}}, "json_object"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, "schema"),
        ({"reasoning_effort": "huge"}, "reasoning_effort: expected"),
        ({"reasoning_effort": "low", "max_completion_tokens": 500}, "no room for thinking"),
        ({"top_k": 5}, "body.top_k: unknown field"),
        ({"max_tokens": "10"}, "max_tokens: expected an integer"),
        ({"max_completion_tokens": 0}, "at least 1"),
        ({"stop": [1]}, "stop[0]"),
        ({"stream": "yes"}, "stream: expected a boolean"),
        ({"tools": [{"type": "custom", "custom": {"name": "c"}}]}, "tools[0].type"),
        ({"tool_choice": "required"}, "needs tools"),
        ({"messages": "hi"}, "messages: expected an array"),
        ({"messages": []}, "all messages must have non-empty content"),
        ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "'function'"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content: expected an array"),
        ({"messages": [{"role": "user", "content": "x", "extra": 1}]}, "messages[0].extra"),
    ],
)
def test_refusals_name_the_field(fields: dict[str, Any], words: str) -> None:
    refused(base(**fields), words)


@pytest.mark.parametrize(
    ("part", "words"),
    [
        ({"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}, "[0]: audio"),
        ({"type": "image_url", "image_url": {"url": "ftp://x"}}, "[0].image_url.url"),
        ({"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AA"}}, "image/bmp"),
        ({"type": "image_url", "image_url": "https://x"}, "[0].image_url: expected an object"),
        ({"type": "file", "file": {"file_id": "file-1"}}, "[0].file.file_id"),
        ({"type": "file", "file": {"file_data": "data:text/plain;base64,AA"}}, "application/pdf"),
        ({"type": "video"}, "unknown content part type 'video'"),
        ({"type": "text"}, "[0].text: expected a string"),
    ],
)
def test_content_part_refusals(part: dict[str, Any], words: str) -> None:
    refused({"model": "m", "messages": [{"role": "user", "content": [part]}]}, words)


def test_malformed_tool_call_arguments_are_named() -> None:
    def call(arguments: Any) -> dict[str, Any]:
        tool_call = {
            "id": "c",
            "type": "function",
            "function": {"name": "f", "arguments": arguments},
        }
        return {"model": "m", "messages": [{"role": "assistant", "tool_calls": [tool_call]}]}

    refused(call("{not json"), "messages[0].tool_calls[0].function.arguments: not valid JSON")
    refused(call("[1]"), "expected a JSON object")
    refused(call(None), "arguments: expected a string")


def test_a_tool_result_without_its_call_fails_the_messages_rules() -> None:
    # The Messages path checks the translated request (MessagesRequest) in Anthropic's words.
    with pytest.raises(InvalidRequest, match="unexpected `tool_use_id`"):
        translate(
            {"model": "m", "messages": [{"role": "tool", "tool_call_id": "x", "content": "r"}]}
        )


# --- answer ------------------------------------------------------------------------------

ANSWER = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 10,
        "output_tokens": 20,
        "cache_read_input_tokens": 5,
        "cache_creation_input_tokens": 3,
    },
}


def test_answer_is_a_chat_completion() -> None:
    conversation = INGRESS.conversation(base(), CALL)
    body = orjson.loads(conversation.answer(ANSWER))
    ChatCompletion.model_validate(body)
    assert body == {
        "id": "chatcmpl-req_1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "logprobs": None,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "Let me check.",
                    "refusal": None,
                    "reasoning_content": "Hmm.",
                    "tool_calls": [
                        {
                            "id": "toolu_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                },
            }
        ],
        "usage": {
            "prompt_tokens": 18,
            "completion_tokens": 20,
            "total_tokens": 38,
            "prompt_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 3},
        },
    }


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
        (None, "stop"),
    ],
)
def test_finish_reasons(stop_reason: str | None, finish_reason: str) -> None:
    message: dict[str, Any] = {
        "content": [{"type": "text", "text": "x"}],
        "stop_reason": stop_reason,
        "usage": {},
    }
    body = orjson.loads(INGRESS.conversation(base(), CALL).answer(message))
    assert body["choices"][0]["finish_reason"] == finish_reason
    assert "reasoning_content" not in body["choices"][0]["message"]


# --- stream ------------------------------------------------------------------------------

EVENTS: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude",
            "stop_reason": None,
            "usage": {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 5},
        },
    },
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": ""},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "Hm"},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": "s"},
    },
    {"type": "content_block_stop", "index": 0},
    {"type": "ping"},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": ""},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": '{"a"'},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": ":1}"},
    },
    {"type": "content_block_stop", "index": 2},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 7, "input_tokens": None},
    },
    {"type": "message_stop"},
]


def run_stream(payload: dict[str, Any], events: list[dict[str, Any]]) -> list[bytes]:
    stream = INGRESS.conversation(payload, CALL).stream()
    return [stream.feed(event) for event in events] + [stream.finish()]


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    body = {
        "id": "chatcmpl-req_1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"


def test_stream_one_frame_per_event() -> None:
    frames = run_stream(base(stream=True), EVENTS)
    assert frames == [
        chunk({"role": "assistant", "content": ""}),
        b"",
        chunk({"reasoning_content": "Hm"}),
        b"",
        b"",
        b": ping\n\n",
        b"",
        chunk({"content": "Hi"}),
        b"",
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": ""},
                    }
                ]
            }
        ),
        b"",
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}),
        b"",
        chunk({}, "tool_calls"),
        b"",
        b"data: [DONE]\n\n",
    ]
    for frame in frames:
        if frame.startswith(b"data: {"):
            ChatCompletionChunk.model_validate_json(frame[6:])


def test_stream_usage_chunk_only_when_asked() -> None:
    payload = base(stream=True, stream_options={"include_usage": True})
    frames = run_stream(payload, EVENTS)
    usage = {
        "prompt_tokens": 15,
        "completion_tokens": 7,
        "total_tokens": 22,
        "prompt_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 0},
    }
    last = {
        "id": "chatcmpl-req_1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o",
        "choices": [],
        "usage": usage,
    }
    assert frames[0] == chunk({"role": "assistant", "content": ""}, usage=None)
    assert frames[-2] == b"data: " + orjson.dumps(last) + b"\n\n"
    assert frames[-1] == b"data: [DONE]\n\n"
    ChatCompletionChunk.model_validate_json(frames[-2][6:])


def test_tool_call_index_counts_tool_calls_only() -> None:
    events = [
        EVENTS[0],
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "a", "name": "f"},
        },
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "b", "name": "g"},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": "{}"},
        },
    ]
    frames = run_stream(base(stream=True), events)
    assert b'"index":1,"id":"b"' in frames[3]
    assert frames[4] == chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]})


def test_stream_error_event_ends_the_stream() -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    frames = run_stream(base(stream=True), [EVENTS[0], error, {"type": "message_stop"}])
    body = {
        "error": {
            "message": "Overloaded",
            "type": "server_error",
            "param": None,
            "code": "overloaded",
        }
    }
    assert frames[1:] == [b"data: " + orjson.dumps(body) + b"\n\n", b"", b""]


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "kind", "code"),
    [
        (InvalidRequest("bad"), 400, "invalid_request_error", None),
        (NotFound("bad"), 404, "invalid_request_error", "model_not_found"),
        (BillingError("bad"), 402, "insufficient_quota", "insufficient_quota"),
        (RateLimited("bad", retry_after="3"), 429, "rate_limit_error", "rate_limit_exceeded"),
        (Overloaded("bad"), 503, "server_error", "overloaded"),
        (GatewayError("bad", status=502), 502, "server_error", None),
    ],
)
def test_errors_are_openai_error_objects(
    error: GatewayError, status: int, kind: str, code: str | None
) -> None:
    assert INGRESS.error(error) == (
        status,
        orjson.dumps({"error": {"message": "bad", "type": kind, "param": None, "code": code}}),
    )
