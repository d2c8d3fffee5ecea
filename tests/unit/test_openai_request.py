"""Anthropic request -> OpenAI Chat Completions body; every body built is schema-checked."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson
import pytest
from ai_proxy.anthropic.envelope import ClientRequest
from ai_proxy.anthropic.models import MessagesRequest
from ai_proxy.config import ProviderConfig
from ai_proxy.errors import InvalidRequest
from ai_proxy.providers.base import RequestContext
from ai_proxy.providers.openai import OpenAIProvider
from ai_proxy.providers.openai.call_ids import to_openai_call_id
from ai_proxy.providers.openai.limits import is_reasoning_model, max_output_tokens
from ai_proxy.providers.openai.request import to_openai_request
from ai_proxy.providers.tool_names import ToolNames, to_upstream_tool_name

from tests.fakes.openai import Rejected, validate_request

HI = [{"role": "user", "content": "hi"}]
IMAGE = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
PDF = {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"}
LONG_NAME = "mcp__claude_in_chrome__" + "navigate_to_the_page_and_take_a_screenshot_" * 2


def translate(model: str = "gpt-4o", **fields: Any) -> dict[str, Any]:
    payload = {"model": model, "max_tokens": 1024, "messages": HI, **fields}
    body = to_openai_request(MessagesRequest.model_validate(payload), model)
    validate_request(body)  # what the fake OpenAI would answer 400 to fails the test here
    return body


def invalid(model: str = "gpt-4o", **fields: Any) -> str:
    payload = {"model": model, "max_tokens": 1024, "messages": HI, **fields}
    with pytest.raises(InvalidRequest) as caught:
        to_openai_request(MessagesRequest.model_validate(payload), model)
    assert caught.value.status == 400
    return caught.value.message


def tool(name: str = "get_weather") -> dict[str, Any]:
    return {
        "name": name,
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }


def call_and_result(
    result: Any, *, call_id: str = "toolu_01", name: str = "get_weather"
) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": call_id, "name": name, "input": {"city": "P"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, **result}]},
    ]


# --- system, text, media ---------------------------------------------------------------------


def test_plain_text_and_string_system() -> None:
    body = translate(system="Be brief.")
    assert body["model"] == "gpt-4o"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert "stream" not in body and "stream_options" not in body


def test_system_blocks_become_text_parts_and_cache_control_is_dropped() -> None:
    system = [
        {"type": "text", "text": "One.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Two."},
    ]
    body = translate(system=system)
    assert body["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "One."}, {"type": "text", "text": "Two."}],
    }


def test_mid_conversation_system_message_keeps_its_place() -> None:
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "system", "content": [{"type": "text", "text": "Now be terse."}]},
        {"role": "user", "content": "c"},
    ]
    body = translate(messages=messages)
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "system", "user"]
    assert body["messages"][2]["content"] == "Now be terse."


def test_images_base64_and_url() -> None:
    content = [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "source": IMAGE},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]
    body = translate(messages=[{"role": "user", "content": content}])
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]


def test_pdf_becomes_a_file_part() -> None:
    content = [
        {"type": "document", "source": PDF, "title": "report.pdf"},
        {"type": "text", "text": "?"},
    ]
    body = translate(messages=[{"role": "user", "content": content}])
    assert body["messages"][0]["content"][0] == {
        "type": "file",
        "file": {"filename": "report.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQK"},
    }


def test_text_document_becomes_text() -> None:
    source = {"type": "text", "media_type": "text/plain", "data": "the body"}
    content = [{"type": "document", "source": source, "title": "Notes"}]
    body = translate(messages=[{"role": "user", "content": content}])
    assert body["messages"][0]["content"] == "Notes\n\nthe body"


@pytest.mark.parametrize(
    ("block", "words"),
    [
        ({"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}}, "'url'"),
        ({"type": "document", "source": {"type": "file", "file_id": "file_1"}}, "'file'"),
        ({"type": "image", "source": {"type": "file", "file_id": "file_1"}}, "'file'"),
        (
            {"type": "document", "source": {**PDF, "media_type": "text/csv"}},
            "'text/csv'",
        ),
    ],
)
def test_unsupported_sources_are_a_clear_400(block: dict[str, Any], words: str) -> None:
    message = invalid(messages=[{"role": "user", "content": [block]}])
    assert words in message and "OpenAI" in message


def test_thinking_blocks_from_earlier_turns_are_dropped() -> None:
    assistant = [
        {"type": "thinking", "thinking": "Let me think", "signature": "EqQBCkgIARABGAIiQL"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
        {"type": "thinking", "thinking": "", "signature": "gemini:c2ln"},
        {"type": "text", "text": "Answer."},
    ]
    messages = [*HI, {"role": "assistant", "content": assistant}, {"role": "user", "content": "ok"}]
    body = translate(messages=messages)
    assert body["messages"][1] == {"role": "assistant", "content": "Answer."}


def test_an_assistant_turn_of_only_thinking_disappears() -> None:
    assistant = [{"type": "thinking", "thinking": "hmm", "signature": "sig"}]
    messages = [*HI, {"role": "assistant", "content": assistant}, {"role": "user", "content": "?"}]
    body = translate(messages=messages)
    assert [m["role"] for m in body["messages"]] == ["user", "user"]


def test_all_empty_messages_are_refused() -> None:
    assert "empty" in invalid(messages=[{"role": "user", "content": ""}])


# --- tools -----------------------------------------------------------------------------------


def test_tools_become_functions() -> None:
    body = translate(tools=[tool()])
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    assert "tool_choice" not in body and "parallel_tool_calls" not in body


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        (
            {"type": "tool", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: Any) -> None:
    body = translate(tools=[tool()], tool_choice=choice)
    assert body["tool_choice"] == expected
    assert "parallel_tool_calls" not in body


def test_disable_parallel_tool_use() -> None:
    body = translate(
        tools=[tool()], tool_choice={"type": "auto", "disable_parallel_tool_use": True}
    )
    assert body["parallel_tool_calls"] is False


def test_tool_choice_without_tools_is_not_sent() -> None:
    # OpenAI answers 400 to tool_choice without tools; Anthropic accepts it.
    body = translate(tool_choice={"type": "auto"})
    assert "tool_choice" not in body


def test_long_and_odd_tool_names_are_shortened_the_same_way_everywhere() -> None:
    odd = "files.read"
    messages = call_and_result({"content": "sunny"}, name=LONG_NAME)
    body = translate(
        tools=[tool(LONG_NAME), tool(odd)],
        tool_choice={"type": "tool", "name": LONG_NAME},
        messages=messages,
    )
    short = body["tools"][0]["function"]["name"]
    assert len(short) == 64 and short.startswith("mcp__claude_in_chrome__navigate")
    assert body["tool_choice"]["function"]["name"] == short
    assert body["messages"][1]["tool_calls"][0]["function"]["name"] == short
    assert body["tools"][1]["function"]["name"].startswith("files_read_")
    names = ToolNames([LONG_NAME, odd, "get_weather"])
    assert names.to_client(short) == LONG_NAME
    assert names.to_client(body["tools"][1]["function"]["name"]) == odd
    assert names.to_client("get_weather") == "get_weather"


def test_the_name_map_is_built_only_for_shortened_names() -> None:
    # Not JSON: proves the body is not parsed for a name that was never shortened.
    names = ToolNames(client_body=b"not json")
    assert names.to_client("get_weather") == "get_weather"
    short = to_upstream_tool_name(LONG_NAME)
    assert names.to_client(short) == short  # unknown: passed through as OpenAI named it
    body = json.dumps({"tools": [tool(LONG_NAME), tool()]}).encode()
    assert ToolNames(client_body=body).to_client(short) == LONG_NAME


def test_shortened_names_stay_distinct() -> None:
    a, b = "x" * 70 + "_alpha", "x" * 70 + "_beta"
    assert to_upstream_tool_name(a) != to_upstream_tool_name(b)
    assert to_upstream_tool_name("a.b") != to_upstream_tool_name("a_b") == "a_b"
    assert to_upstream_tool_name(a) == to_upstream_tool_name(a)  # deterministic: no state


def test_tool_round_trip_in_order() -> None:
    assistant = [
        {"type": "text", "text": "Checking both."},
        {"type": "tool_use", "id": "toolu_A", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_B", "name": "get_weather", "input": {"city": "Rome"}},
    ]
    results = [
        {"type": "tool_result", "tool_use_id": "toolu_A", "content": "sunny"},
        {
            "type": "tool_result",
            "tool_use_id": "toolu_B",
            "content": [{"type": "text", "text": "rain"}],
            "is_error": True,
        },
        {"type": "text", "text": "And tomorrow?"},
    ]
    messages = [
        *HI,
        {"role": "assistant", "content": assistant},
        {"role": "user", "content": results},
    ]
    body = translate(tools=[tool()], messages=messages)
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Checking both.",
            "tool_calls": [
                {
                    "id": "toolu_A",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "toolu_B",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_A", "content": "sunny"},
        {"role": "tool", "tool_call_id": "toolu_B", "content": "Error: rain"},
        {"role": "user", "content": "And tomorrow?"},
    ]


def test_assistant_with_only_tool_calls_has_null_content() -> None:
    body = translate(tools=[tool()], messages=call_and_result({"content": "sunny"}))
    assert body["messages"][1]["content"] is None


def test_images_in_tool_results_follow_as_a_user_message() -> None:
    content = [{"type": "text", "text": "screenshot taken"}, {"type": "image", "source": IMAGE}]
    body = translate(tools=[tool()], messages=call_and_result({"content": content}))
    tool_message, follow_up = body["messages"][2:]
    assert tool_message == {
        "role": "tool",
        "tool_call_id": "toolu_01",
        "content": "screenshot taken",
    }
    assert follow_up["role"] == "user"
    assert "toolu_01" in follow_up["content"][0]["text"]
    assert follow_up["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
    }


def test_image_only_tool_result_still_answers_the_call() -> None:
    body = translate(
        tools=[tool()], messages=call_and_result({"content": [{"type": "image", "source": IMAGE}]})
    )
    assert body["messages"][2]["role"] == "tool" and body["messages"][2]["content"]
    assert body["messages"][3]["content"][1]["type"] == "image_url"


def test_long_tool_use_ids_are_shortened_consistently() -> None:
    long_id = "toolu_" + "x" * 60
    body = translate(tools=[tool()], messages=call_and_result({"content": "ok"}, call_id=long_id))
    call_id = body["messages"][1]["tool_calls"][0]["id"]
    assert len(call_id) <= 40 and call_id == body["messages"][2]["tool_call_id"]
    assert call_id == to_openai_call_id(long_id) != long_id


def test_tool_result_without_a_call_is_refused() -> None:
    results = [{"type": "tool_result", "tool_use_id": "toolu_nowhere", "content": "x"}]
    assert "toolu_nowhere" in invalid(messages=[{"role": "user", "content": results}])


# --- generation settings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "asked", "sent"),
    [
        ("gpt-4o", 32000, 16384),
        ("gpt-4o-mini-2024-07-18", 32000, 16384),
        ("gpt-4.1", 64000, 32768),
        ("gpt-4.1-nano", 1000, 1000),
        ("o3", 200000, 100000),
        ("o4-mini", 32000, 32000),
        ("gpt-5", 200000, 128000),
        ("gpt-5.1-codex", 32000, 32000),
        ("gpt-some-future-model", 500000, 500000),
    ],
)
def test_max_tokens_capped_per_model(model: str, asked: int, sent: int) -> None:
    body = translate(model=model, max_tokens=asked)
    assert body["max_completion_tokens"] == sent
    assert "max_tokens" not in body


def test_limits_table_prefixes() -> None:
    assert max_output_tokens("gpt-4-0613") == 8192
    assert max_output_tokens("chatgpt-4o-latest") == 16384
    assert max_output_tokens("ft:gpt-4o-mini:org:custom:abc") == 16384
    assert max_output_tokens("gpt-5-chat-latest") == 16384
    assert is_reasoning_model("o3-mini") and is_reasoning_model("gpt-5.1")
    assert not is_reasoning_model("gpt-5-chat-latest") and not is_reasoning_model("gpt-4o")
    assert not is_reasoning_model("o1x")


def test_sampling_parameters_for_chat_models() -> None:
    body = translate(temperature=0.2, top_p=0.9, stop_sequences=["END", "STOP"])
    assert (body["temperature"], body["top_p"], body["stop"]) == (0.2, 0.9, ["END", "STOP"])
    assert "reasoning_effort" not in body


def test_top_k_is_refused_by_name() -> None:
    # OpenAI has no top_k; sampling from a different distribution is not the client's ask.
    message = invalid(top_k=40)
    assert "top_k" in message and "openai" in message


def test_thinking_is_dropped_for_chat_models() -> None:
    body = translate(thinking={"type": "enabled", "budget_tokens": 10000})
    assert "reasoning_effort" not in body


def test_reasoning_models_drop_sampling_and_take_effort() -> None:
    body = translate(
        model="o3",
        temperature=0.7,
        top_p=0.5,
        thinking={"type": "enabled", "budget_tokens": 2048},
    )
    assert "temperature" not in body and "top_p" not in body
    assert body["reasoning_effort"] == "low"


@pytest.mark.parametrize(
    ("fields", "effort"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "low"),
        ({"thinking": {"type": "enabled", "budget_tokens": 8000}}, "medium"),
        ({"thinking": {"type": "enabled", "budget_tokens": 31999}}, "high"),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}, "low"),
        ({"output_config": {"effort": "medium"}}, "medium"),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}, "high"),
        ({"thinking": {"type": "adaptive"}}, None),
        ({"thinking": {"type": "disabled"}}, "minimal"),
        ({}, None),
    ],
)
def test_reasoning_effort(fields: dict[str, Any], effort: str | None) -> None:
    body = translate(model="gpt-5", **fields)
    assert body.get("reasoning_effort") == effort


def test_more_than_four_stop_sequences_is_a_400() -> None:
    message = invalid(stop_sequences=["a", "b", "c", "d", "e"])
    assert "at most 4" in message and "got 5" in message


def test_stop_sequences_on_reasoning_models_are_a_400() -> None:
    assert "o3" in invalid(model="o3", stop_sequences=["END"])


def test_metadata_user_id_becomes_a_hashed_safety_identifier() -> None:
    user_id = "user_" + "a" * 64 + "_account_x_session_" + "b" * 36
    body = translate(metadata={"user_id": user_id})
    assert body["safety_identifier"] == hashlib.sha256(user_id.encode()).hexdigest()
    assert len(body["safety_identifier"]) <= 128
    assert "user" not in body and "metadata" not in body


def test_streaming_asks_for_usage() -> None:
    body = translate(stream=True)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_the_fake_validator_would_catch_a_bad_body() -> None:
    """The schema check used above really rejects what OpenAI rejects."""
    body = translate()
    body["messages"][0] = {
        "role": "user",
        "content": [{"type": "text", "text": "x", "cache_control": {}}],
    }
    with pytest.raises(Rejected) as caught:
        validate_request(body)
    assert caught.value.param == "messages[0].content[0].cache_control"


# --- the provider ----------------------------------------------------------------------------


def test_provider_builds_url_headers_and_body() -> None:
    provider = OpenAIProvider(ProviderConfig(base_url="https://api.openai.com/v1/"))
    request = ClientRequest.from_body(
        orjson.dumps({"model": "gpt-4o", "max_tokens": 10, "messages": HI, "stream": True})
    )
    context = RequestContext(client_model="gpt-4o", upstream_model="gpt-4o", request_id="req_1")
    upstream = provider.build_request(request, context, "sk-test")
    assert upstream.url == "https://api.openai.com/v1/chat/completions"
    assert upstream.headers["authorization"] == "Bearer sk-test"
    assert upstream.headers["x-client-request-id"] == "req_1"
    assert upstream.stream is True


def test_translator_maps_names_back_from_the_client_body() -> None:
    provider = OpenAIProvider(ProviderConfig(base_url="https://api.openai.com/v1"))
    payload = {"model": "gpt-4o", "max_tokens": 10, "messages": HI, "tools": [tool(LONG_NAME)]}
    context = RequestContext(
        client_model="gpt-4o",
        upstream_model="gpt-4o",
        request_id="req_2",
        client_request=ClientRequest.from_body(json.dumps(payload).encode()),
    )
    translator = provider.new_translator(context)
    short = to_upstream_tool_name(LONG_NAME)
    completion = {
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": short, "arguments": "{}"},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    }
    events = translator.feed_payload(completion) + translator.finish()
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert starts == [
        {"type": "tool_use", "id": "toolu_oai_call_1", "name": LONG_NAME, "input": {}}
    ]
