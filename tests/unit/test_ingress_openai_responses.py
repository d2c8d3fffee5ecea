"""The OpenAI Responses ingress: Codex-shaped requests in, Responses objects and events out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from ai_proxy.anthropic.models import MessagesRequest
from ai_proxy.errors import InvalidRequest, Overloaded, RateLimited
from ai_proxy.ingress.base import IngressCall
from ai_proxy.ingress.openai_responses import OpenAIResponsesIngress
from openai.types.responses import Response, ResponseStreamEvent
from openai.types.responses.response_create_params import ResponseCreateParamsStreaming
from pydantic import TypeAdapter

CALL = IngressCall(client_model="gpt-5-codex", request_id="req1", created=1700000000)
INGRESS = OpenAIResponsesIngress()
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
SHELL_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {"command": {"type": "array", "items": {"type": "string"}}},
    "required": ["command"],
}
LARK = "start: begin_patch hunk+ end_patch"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingress"


def codex_request(**overrides: Any) -> dict[str, Any]:
    """A request as Codex CLI sends it mid tool loop (store false, whole history, stream)."""
    body: ResponseCreateParamsStreaming = {
        "model": "gpt-5-codex",
        "instructions": "You are Codex.",
        "input": [
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "<permissions>sandbox</permissions>"}],
            },
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ls"}]},
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "List the files."}],
                "encrypted_content": "SIG1",
            },
            {
                "type": "function_call",
                "call_id": "toolu_1",
                "name": "shell",
                "arguments": '{"command":["ls"]}',
            },
            {"type": "function_call_output", "call_id": "toolu_1", "output": "a.txt"},
            {
                "type": "custom_tool_call",
                "call_id": "toolu_2",
                "name": "apply_patch",
                "input": "*** Begin Patch",
            },
            {"type": "custom_tool_call_output", "call_id": "toolu_2", "output": "Done"},
        ],
        "tools": [
            {
                "type": "function",
                "name": "shell",
                "description": "Runs a command.",
                "strict": False,
                "parameters": SHELL_SCHEMA,
            },
            {
                "type": "custom",
                "name": "apply_patch",
                "description": "Edits files.",
                "format": {"type": "grammar", "syntax": "lark", "definition": LARK},
            },
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "conversation-1",
        "text": {"verbosity": "low"},
    }
    payload: dict[str, Any] = dict(body)
    payload.update(overrides)
    return payload


def translate(payload: dict[str, Any]) -> dict[str, Any]:
    request = INGRESS.conversation(payload, CALL).messages_request
    MessagesRequest.model_validate(request)
    return request


def test_codex_request_becomes_anthropic_request() -> None:
    request = translate(codex_request())
    assert request == {
        "model": "gpt-5-codex",
        "system": [
            {"type": "text", "text": "You are Codex."},
            {"type": "text", "text": "<permissions>sandbox</permissions>"},
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "ls"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "List the files.", "signature": "SIG1"},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "shell",
                        "input": {"command": ["ls"]},
                    },
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt"}],
            },
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_2",
                        "name": "apply_patch",
                        "input": {"input": "*** Begin Patch"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "Done"}],
            },
        ],
        "stream": True,
        "max_tokens": 8192 + 4096,
        "tools": [
            {"name": "shell", "description": "Runs a command.", "input_schema": SHELL_SCHEMA},
            {
                "name": "apply_patch",
                "description": (
                    "Edits files.\n\nThe `input` string must match this lark grammar:\n" + LARK
                ),
                "input_schema": {
                    "type": "object",
                    "properties": {"input": {"type": "string"}},
                    "required": ["input"],
                },
            },
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "thinking": {"type": "enabled", "budget_tokens": 8192},
    }


def test_string_input_and_plain_fields() -> None:
    request = translate(
        {
            "model": "m",
            "input": "hi",
            "max_output_tokens": 100,
            "temperature": 0.5,
            "top_p": 0.9,
            "user": "u1",
            "store": True,
            "truncation": "auto",
            "tool_choice": "required",
            "tools": [{"type": "function", "name": "f", "parameters": None, "strict": True}],
        }
    )
    assert request == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
        "max_tokens": 100,
        "temperature": 0.5,
        "top_p": 0.9,
        "tools": [{"name": "f", "input_schema": {"type": "object"}, "strict": True}],
        "tool_choice": {"type": "any"},
        "metadata": {"user_id": "u1"},
    }


def test_images_files_and_redacted_reasoning_and_local_shell() -> None:
    request = translate(
        {
            "model": "m",
            "tools": [{"type": "local_shell"}],
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_image", "image_url": "data:image/png;base64,AAA"},
                        {"type": "input_image", "image_url": "https://x/y.png", "detail": "auto"},
                        {"type": "input_file", "file_data": "JVBER", "filename": "a.pdf"},
                    ],
                },
                {"type": "reasoning", "summary": [], "encrypted_content": "redacted_thinking:D"},
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "x"}]},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "ok", "annotations": []}],
                },
                {
                    "type": "local_shell_call",
                    "id": "lsh_1",
                    "call_id": "c1",
                    "status": "completed",
                    "action": {"type": "exec", "command": ["ls"], "env": {}, "timeout_ms": None},
                },
                {"type": "local_shell_call_output", "id": "c1", "output": "a"},
                {
                    "type": "function_call_output",
                    "call_id": "c1",
                    "output": [{"type": "input_text", "text": "more"}],
                },
            ],
        }
    )
    assert request["messages"] == [
        {
            "role": "user",
            "content": [
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "AAA"},
                },
                {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"},
                    "title": "a.pdf",
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "redacted_thinking", "data": "D"},
                {"type": "text", "text": "ok"},
                {
                    "type": "tool_use",
                    "id": "c1",
                    "name": "local_shell",
                    "input": {"command": ["ls"], "env": {}},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "a"},
                {
                    "type": "tool_result",
                    "tool_use_id": "c1",
                    "content": [{"type": "text", "text": "more"}],
                },
            ],
        },
    ]
    assert request["tools"][0]["name"] == "local_shell"


def test_effort_fits_within_max_output_tokens() -> None:
    high = translate(
        {"model": "m", "input": "x", "reasoning": {"effort": "high"}, "max_output_tokens": 5000}
    )
    assert high["thinking"] == {"type": "enabled", "budget_tokens": 4999}
    assert high["max_tokens"] == 5000
    off = translate({"model": "m", "input": "x", "reasoning": {"effort": "minimal"}})
    assert off["thinking"] == {"type": "disabled"}


def test_json_schema_text_format() -> None:
    schema = {"type": "object", "properties": {}}
    request = translate(
        {
            "model": "m",
            "input": "x",
            "text": {
                "format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}
            },
        }
    )
    assert request["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id: needs the earlier response"),
        ({"store": "yes"}, "store: expected a boolean"),
        ({"background": True}, "background: only False"),
        ({"conversation": "conv_1"}, "conversation: needs server-side state"),
        ({"prompt": {"id": "p"}}, "prompt: stored prompt templates"),
        ({"max_tool_calls": 3}, "max_tool_calls:"),
        ({"context_management": [{"type": "compaction"}]}, "context_management:"),
        ({"top_logprobs": 5}, "top_logprobs: only 0"),
        ({"include": ["message.output_text.logprobs"]}, "include[0]:"),
        ({"truncation": "sometimes"}, "truncation: expected"),
        ({"frobnicate": 1}, "body.frobnicate: unknown field"),
        ({"tools": [{"type": "file_search"}]}, "tools[0].type: 'file_search' tools run at OpenAI"),
        ({"tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": []}}, "tool_choice:"),
        ({"tool_choice": {"type": "function", "name": "nope"}}, "tool_choice.name: tool 'nope'"),
        ({"tool_choice": 3}, "tool_choice: expected"),
        ({"reasoning": {"effort": "huge"}}, "reasoning.effort: expected one of"),
        ({"reasoning": {"mode": "pro"}}, "reasoning.mode: only 'standard'"),
        ({"reasoning": {"effort": "low", "colour": 1}}, "reasoning.colour: unknown field"),
        ({"text": {"verbosity": "loud"}}, "text.verbosity: expected"),
        ({"reasoning": {"effort": "low"}, "max_output_tokens": 500}, "leaves no room"),
        ({"max_output_tokens": 0}, "max_output_tokens: must be at least 1"),
        ({"max_output_tokens": "9"}, "max_output_tokens: expected an integer"),
        ({"text": {"format": {"type": "json_object"}}}, "text.format: 'json_object'"),
        ({"input": 5}, "input: expected an array"),
        ({"input": []}, "messages: all messages must have non-empty content"),
        ({"input": [7]}, "input[0]: expected an object"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role: expected one of"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0]: item_reference needs"),
        ({"input": [{"type": "compaction", "encrypted_content": "x"}]}, "input[0]: a compaction"),
        ({"input": [{"type": "mcp_call"}]}, "input[0].type: 'mcp_call'"),
        (
            {"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{"}]},
            "input[0].arguments: not valid JSON",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0].file_id: files stored at OpenAI",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": 1}]}]},
            "input[0].content[0].image_url: expected a string",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "input[0].content[0].type: 'input_audio'",
        ),
        (
            {"input": [{"role": "system", "content": [{"type": "input_image", "image_url": "x"}]}]},
            "input[0].content[0].type: expected one of input_text",
        ),
        (
            {"input": [{"type": "function_call_output", "call_id": "nope", "output": "x"}]},
            "unexpected `tool_use_id` found in `tool_result` blocks: nope",
        ),
    ],
)
def test_refusals_name_the_field(overrides: dict[str, Any], words: str) -> None:
    payload = {"model": "m", "input": "x", **overrides}
    with pytest.raises(InvalidRequest) as raised:
        translate(payload)
    assert words in raised.value.message


MESSAGE: dict[str, Any] = {
    "id": "msg_up",
    "type": "message",
    "role": "assistant",
    "model": "claude",
    "content": [
        {"type": "thinking", "thinking": "Plan.", "signature": "SIG2"},
        {"type": "text", "text": "Running it."},
        {"type": "tool_use", "id": "toolu_9", "name": "shell", "input": {"command": ["pwd"]}},
        {"type": "tool_use", "id": "toolu_10", "name": "apply_patch", "input": {"input": "P"}},
        {"type": "redacted_thinking", "data": "R"},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 10,
        "cache_read_input_tokens": 5,
        "cache_creation_input_tokens": 1,
        "output_tokens": 7,
    },
}


def test_answer_is_a_response_object() -> None:
    conversation = INGRESS.conversation(codex_request(), CALL)
    body = orjson.loads(conversation.answer(MESSAGE))
    Response.model_validate(body)
    assert body["id"] == "resp_req1"
    assert body["status"] == "completed"
    assert body["incomplete_details"] is None
    assert body["output"] == [
        {
            "type": "reasoning",
            "id": "rs_req1_0",
            "summary": [{"type": "summary_text", "text": "Plan."}],
            "encrypted_content": "SIG2",
        },
        {
            "type": "message",
            "id": "msg_req1_1",
            "role": "assistant",
            "status": "completed",
            "content": [
                {"type": "output_text", "text": "Running it.", "annotations": [], "logprobs": []}
            ],
        },
        {
            "type": "function_call",
            "id": "fc_req1_2",
            "call_id": "toolu_9",
            "name": "shell",
            "arguments": '{"command":["pwd"]}',
            "status": "completed",
        },
        {
            "type": "custom_tool_call",
            "id": "ctc_req1_3",
            "call_id": "toolu_10",
            "name": "apply_patch",
            "input": "P",
            "status": "completed",
        },
        {
            "type": "reasoning",
            "id": "rs_req1_4",
            "summary": [],
            "encrypted_content": "redacted_thinking:R",
        },
    ]
    assert body["usage"] == {
        "input_tokens": 16,
        "input_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 1},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 23,
    }
    assert body["parallel_tool_calls"] is False
    assert body["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert body["store"] is False
    assert body["instructions"] == "You are Codex."


def test_reasoning_round_trips_through_the_next_request() -> None:
    """Our reasoning items, sent back as Codex does, are the same thinking blocks again."""
    body = orjson.loads(INGRESS.conversation(codex_request(), CALL).answer(MESSAGE))
    items = [body["output"][0], body["output"][4], body["output"][2]]
    items.append({"type": "function_call_output", "call_id": "toolu_9", "output": "/"})
    request = translate(
        {
            "model": "m",
            "input": [{"role": "user", "content": "go"}, *items],
            "tools": codex_request()["tools"],
        }
    )
    assert request["messages"][1]["content"][:2] == [
        {"type": "thinking", "thinking": "Plan.", "signature": "SIG2"},
        {"type": "redacted_thinking", "data": "R"},
    ]


def test_max_tokens_answer_is_incomplete() -> None:
    message = {**MESSAGE, "content": [{"type": "text", "text": "cut"}], "stop_reason": "max_tokens"}
    body = orjson.loads(INGRESS.conversation({"model": "m", "input": "x"}, CALL).answer(message))
    Response.model_validate(body)
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}


def test_local_shell_call_answer() -> None:
    message = {
        **MESSAGE,
        "content": [
            {"type": "tool_use", "id": "t1", "name": "local_shell", "input": {"command": ["ls"]}}
        ],
    }
    payload = {"model": "m", "input": "x", "tools": [{"type": "local_shell"}]}
    body = orjson.loads(INGRESS.conversation(payload, CALL).answer(message))
    Response.model_validate(body)
    assert body["output"] == [
        {
            "type": "local_shell_call",
            "id": "lsh_req1_0",
            "call_id": "t1",
            "action": {"type": "exec", "command": ["ls"], "env": {}},
            "status": "completed",
        }
    ]


def anthropic_stream() -> list[dict[str, Any]]:
    usage = {
        "input_tokens": 10,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "output_tokens": 1,
    }
    start = {**MESSAGE, "content": [], "stop_reason": None, "usage": usage}
    return [
        {"type": "message_start", "message": start},
        {"type": "ping"},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Pl"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "an."},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "SIG2"},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_9", "name": "shell", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": '{"command":'},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": '["pwd"]}'},
        },
        {"type": "content_block_stop", "index": 2},
        {
            "type": "content_block_start",
            "index": 3,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_10",
                "name": "apply_patch",
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "input_json_delta", "partial_json": '{"input": "P"}'},
        },
        {"type": "content_block_stop", "index": 3},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 7},
        },
        {"type": "message_stop"},
    ]


def frames(data: bytes) -> list[dict[str, Any]]:
    """Each SSE frame's payload, checked against its `event:` line and the SDK's types."""
    events = []
    for frame in data.decode().split("\n\n"):
        if not frame or frame.startswith(":"):
            continue
        kind_line, data_line = frame.split("\n")
        payload = orjson.loads(data_line.removeprefix("data: "))
        assert kind_line == f"event: {payload['type']}"
        EVENTS.validate_python(payload)
        events.append(payload)
    return events


def test_stream_emits_semantic_events_in_order() -> None:
    stream = INGRESS.conversation(codex_request(), CALL).stream()
    outputs = [stream.feed(event) for event in anthropic_stream()]
    assert outputs[1] == b": ping\n\n"
    events = frames(b"".join(outputs) + stream.finish())
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    assert [event["type"] for event in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[0]["response"]["status"] == "in_progress"
    assert events[0]["response"]["output"] == []
    assert events[2]["item"] == {
        "type": "reasoning",
        "id": "rs_req1_0",
        "summary": [],
        "encrypted_content": None,
    }
    assert events[8]["item"]["encrypted_content"] == "SIG2"
    assert events[11] == {
        "type": "response.output_text.delta",
        "sequence_number": 11,
        "item_id": "msg_req1_1",
        "output_index": 1,
        "content_index": 0,
        "delta": "Hi",
        "logprobs": [],
    }
    assert events[15]["item"]["arguments"] == ""
    assert events[18]["arguments"] == '{"command":["pwd"]}'
    assert events[22]["input"] == "P"
    final = events[-1]["response"]
    assert final["status"] == "completed"
    assert [item["id"] for item in final["output"]] == [
        "rs_req1_0",
        "msg_req1_1",
        "fc_req1_2",
        "ctc_req1_3",
    ]
    assert final["usage"]["output_tokens"] == 7
    assert final["output"][1] == events[14]["item"]


def test_stream_error_mid_way_is_response_failed() -> None:
    stream = INGRESS.conversation(codex_request(), CALL).stream()
    data = b"".join(stream.feed(event) for event in anthropic_stream()[:9])
    data += stream.feed({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    events = frames(data)
    failed = events[-1]
    assert failed["type"] == "response.failed"
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {"code": "server_error", "message": "busy"}
    assert [item["id"] for item in failed["response"]["output"]] == ["rs_req1_0", "msg_req1_1"]
    assert stream.feed({"type": "message_stop"}) == b""


def test_stream_rate_limit_error_code() -> None:
    stream = INGRESS.conversation(codex_request(), CALL).stream()
    data = stream.feed(anthropic_stream()[0])
    data += stream.feed({"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}})
    assert frames(data)[-1]["response"]["error"]["code"] == "rate_limit_exceeded"


def test_stream_max_tokens_is_incomplete() -> None:
    events = anthropic_stream()[:10]
    events += [
        {
            "type": "message_delta",
            "delta": {"stop_reason": "max_tokens"},
            "usage": {"output_tokens": 3},
        },
        {"type": "message_stop"},
    ]
    stream = INGRESS.conversation(codex_request(), CALL).stream()
    last = frames(b"".join(stream.feed(event) for event in events))[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_path_stream_flag_overrides_body() -> None:
    conversation = INGRESS.conversation({"model": "m", "input": "x"}, CALL, stream=True)
    assert conversation.messages_request["stream"] is True


def test_errors_are_openai_error_objects() -> None:
    status, body = INGRESS.error(InvalidRequest("input[0].role: bad"))
    assert status == 400
    assert orjson.loads(body) == {
        "error": {
            "message": "input[0].role: bad",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    assert INGRESS.error(Overloaded("busy"))[0] == 503
    status, body = INGRESS.error(RateLimited("slow"))
    assert status == 429
    assert orjson.loads(body)["error"]["code"] == "rate_limit_exceeded"


def test_web_search_tool_and_calls() -> None:
    tool = {
        "type": "web_search",
        "external_web_access": False,
        "filters": {"allowed_domains": ["docs.python.org"]},
        "user_location": {"type": "approximate", "country": "FR", "city": None},
    }
    search = {
        "type": "web_search_call",
        "id": "ws_1",
        "status": "completed",
        "action": {"type": "search", "query": "q"},
    }
    payload = {"model": "m", "input": [{"role": "user", "content": "x"}, search], "tools": [tool]}
    request = translate(payload)
    assert request["tools"] == [
        {
            "type": "web_search_20250305",
            "name": "web_search",
            "allowed_domains": ["docs.python.org"],
            "user_location": {"type": "approximate", "country": "FR"},
        }
    ]
    assert request["messages"] == [{"role": "user", "content": [{"type": "text", "text": "x"}]}]
    message = {
        **MESSAGE,
        "content": [
            {
                "type": "server_tool_use",
                "id": "srv_1",
                "name": "web_search",
                "input": {"query": "q"},
            },
            {"type": "web_search_tool_result", "tool_use_id": "srv_1", "content": []},
            {"type": "text", "text": "Found."},
        ],
        "stop_reason": "end_turn",
    }
    body = orjson.loads(INGRESS.conversation(payload, CALL).answer(message))
    Response.model_validate(body)
    assert [item["type"] for item in body["output"]] == ["web_search_call", "message"]
    assert body["output"][0] == {
        "type": "web_search_call",
        "id": "ws_req1_0",
        "status": "completed",
        "action": {"type": "search", "query": "q"},
    }
    assert body["tools"] == [tool]


def test_stream_web_search_call() -> None:
    start = anthropic_stream()[0]
    events = [
        start,
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {
                "type": "server_tool_use",
                "id": "s",
                "name": "web_search",
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"query": "q"}'},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "web_search_tool_result", "tool_use_id": "s", "content": []},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 2},
        },
        {"type": "message_stop"},
    ]
    payload = {"model": "m", "input": "x", "tools": [{"type": "web_search"}]}
    stream = INGRESS.conversation(payload, CALL).stream()
    out = frames(b"".join(stream.feed(event) for event in events))
    assert [event["type"] for event in out] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]
    assert out[3]["item"]["action"] == {"type": "search", "query": "q"}
    assert out[4]["response"]["output"] == [out[3]["item"]]


def codex_fixture(name: str) -> dict[str, Any]:
    """A request body Codex CLI really sent (tests/fixtures/ingress/README.md)."""
    body: dict[str, Any] = orjson.loads((FIXTURES / f"{name}.json").read_bytes())
    return body


def test_captured_codex_first_turn_translates() -> None:
    """Codex sends a namespace tool, web_search and client_metadata: none may be refused."""
    body = codex_fixture("codex_turn1")
    request = translate(body)
    namespace = next(tool for tool in body["tools"] if tool["type"] == "namespace")
    members = [f"multi_agent_v1__{tool['name']}" for tool in namespace["tools"]]
    functions = [tool["name"] for tool in body["tools"] if tool["type"] == "function"]
    assert [tool["name"] for tool in request["tools"]] == [
        *functions[:4],
        *members,
        *functions[4:],
        "web_search",
    ]
    assert request["tools"][0] == {
        "name": "exec_command",
        "description": body["tools"][0]["description"],
        "input_schema": body["tools"][0]["parameters"],
    }
    spawn = namespace["tools"][3]
    assert request["tools"][4 + 3] == {
        "name": "multi_agent_v1__spawn_agent",
        "description": f"{namespace['description']}\n\n{spawn['description']}",
        "input_schema": spawn["parameters"],
    }
    assert request["tools"][-1] == {"type": "web_search_20250305", "name": "web_search"}
    assert "tool_choice" not in request  # auto, parallel: Anthropic's defaults
    developer = [part["text"] for item in body["input"][:2] for part in item["content"]]
    assert request["system"] == [{"type": "text", "text": text} for text in developer]
    user = [part["text"] for item in body["input"][2:] for part in item["content"]]
    assert request["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": text} for text in user]}
    ]
    assert request["stream"] is True


def test_captured_codex_second_turn_carries_the_tool_round_trip() -> None:
    body = codex_fixture("codex_turn2")
    call, output = body["input"][-2:]
    request = translate(body)
    assert request["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "call_capture_1",
                    "name": "exec_command",
                    "input": {"cmd": "echo tok-7c1f"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "call_capture_1",
                    "content": output["output"],
                }
            ],
        },
    ]
    assert "tok-7c1f" in output["output"]
    assert call["call_id"] == output["call_id"]


def namespaced_payload() -> dict[str, Any]:
    schema = {"type": "object", "properties": {"task": {"type": "string"}}}
    return {
        "model": "m",
        "input": "x",
        "tools": [
            {
                "type": "namespace",
                "name": "agents",
                "description": "Sub-agents.",
                "tools": [
                    {"type": "function", "name": "spawn", "parameters": schema},
                    {"type": "custom", "name": "note", "description": "Free text."},
                ],
            }
        ],
    }


NAMESPACED_MESSAGE: dict[str, Any] = {
    **MESSAGE,
    "content": [
        {"type": "tool_use", "id": "t1", "name": "agents__spawn", "input": {"task": "a"}},
        {"type": "tool_use", "id": "t2", "name": "agents__note", "input": {"input": "hi"}},
    ],
}


def test_namespace_members_are_declared_flat() -> None:
    request = translate(namespaced_payload())
    assert request["tools"] == [
        {
            "name": "agents__spawn",
            "description": "Sub-agents.",
            "input_schema": {"type": "object", "properties": {"task": {"type": "string"}}},
        },
        {
            "name": "agents__note",
            "description": "Sub-agents.\n\nFree text.",
            "input_schema": {
                "type": "object",
                "properties": {"input": {"type": "string"}},
                "required": ["input"],
            },
        },
    ]


def test_namespaced_calls_answer_with_their_namespace_and_round_trip() -> None:
    """The answer names member and namespace apart (openai's `namespace` field); the call
    items sent back with it name the same flat tool again, with nothing kept between."""
    payload = namespaced_payload()
    body = orjson.loads(INGRESS.conversation(payload, CALL).answer(NAMESPACED_MESSAGE))
    Response.model_validate(body)
    assert body["output"] == [
        {
            "type": "function_call",
            "id": "fc_req1_0",
            "call_id": "t1",
            "name": "spawn",
            "namespace": "agents",
            "arguments": '{"task":"a"}',
            "status": "completed",
        },
        {
            "type": "custom_tool_call",
            "id": "ctc_req1_1",
            "call_id": "t2",
            "name": "note",
            "namespace": "agents",
            "input": "hi",
            "status": "completed",
        },
    ]
    assert body["tools"][0]["type"] == "namespace"
    outputs = [
        {"type": "function_call_output", "call_id": "t1", "output": "ok", "namespace": "agents"},
        {"type": "custom_tool_call_output", "call_id": "t2", "output": "ok", "name": "note"},
    ]
    request = translate({**payload, "input": [*body["output"], *outputs]})
    assert request["messages"][0]["content"] == [
        {"type": "tool_use", "id": "t1", "name": "agents__spawn", "input": {"task": "a"}},
        {"type": "tool_use", "id": "t2", "name": "agents__note", "input": {"input": "hi"}},
    ]
    assert [block["tool_use_id"] for block in request["messages"][1]["content"]] == ["t1", "t2"]


def test_stream_namespaced_call_items_carry_the_namespace() -> None:
    events: list[dict[str, Any]] = [
        anthropic_stream()[0],
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "t1", "name": "agents__spawn", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"task": "a"}'},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 2},
        },
        {"type": "message_stop"},
    ]
    stream = INGRESS.conversation(namespaced_payload(), CALL).stream()
    out = frames(b"".join(stream.feed(event) for event in events))
    added, done = (
        event["item"] for event in out if event["type"].startswith("response.output_item")
    )
    assert (added["name"], added["namespace"]) == ("spawn", "agents")
    assert (done["name"], done["namespace"], done["arguments"]) == (
        "spawn",
        "agents",
        '{"task":"a"}',
    )
    assert out[-1]["response"]["output"] == [done]


@pytest.mark.parametrize(
    ("tools", "words"),
    [
        (
            [{"type": "namespace", "name": "n", "tools": [{"type": "web_search"}]}],
            "tools[0].tools[0].type: a namespace holds only function and custom tools",
        ),
        (
            [
                {"type": "function", "name": "n__f"},
                {"type": "namespace", "name": "n", "tools": [{"type": "function", "name": "f"}]},
            ],
            "tools: tool names must be unique",
        ),
    ],
)
def test_namespace_refusals(tools: list[dict[str, Any]], words: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        translate({"model": "m", "input": "x", "tools": tools})
    assert words in raised.value.message
