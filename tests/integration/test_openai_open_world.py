"""Issue 10 on OpenAI, over real HTTP: the anthropic SDK -> our gateway -> the fake OpenAI.

Effort on every model family, structured outputs, strict tools, Anthropic-shaped tool ids,
message_start's input count, Claude Code's `max_tokens: 1` probe, tool search and server
tools. The fake refuses any body the real API would (openai SDK request types plus its rules
on efforts, strict schemas and call ids), and every test ends by asserting it refused none.
"""

from __future__ import annotations

import json
from typing import Any, cast

import anthropic
import httpx
import pytest

from tests.fakes.openai import Answer, FakeOpenAI, ToolCall
from tests.sse_grammar import check_stream
from tests.unit import test_openai_http as http_suite

HI: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Hello"}]
EFFORTS = ("low", "medium", "high", "xhigh", "max")
EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "day": {"type": "string"}},
    "required": ["name", "day"],
    "additionalProperties": False,
}
LOOKUP = {
    "name": "lookup",
    "description": "Look a word up",
    "input_schema": {
        "type": "object",
        "properties": {"word": {"type": "string"}},
        "required": ["word"],
        "additionalProperties": False,
    },
}


# The HTTP suite's gateway + fake pair, client and "ask whole and streamed" helper; the fake
# fixture asserts after each test that the fake refused nothing.
servers = http_suite.servers
fake = http_suite.fake
client = http_suite.client
both_ways = http_suite.both_ways


def tool_turn(call_id: str, name: str, arguments: dict[str, Any], result: Any) -> list[Any]:
    """An assistant's tool call and the user's tool_result answering it."""
    call = {"type": "tool_use", "id": call_id, "name": name, "input": arguments}
    answer = {"type": "tool_result", "tool_use_id": call_id, "content": result}
    return [
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [answer]},
    ]


# --- effort ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "sent"),
    [
        ("o3", ("low", "medium", "high", "high", "high")),
        ("gpt-5", ("low", "medium", "high", "high", "high")),
        ("gpt-5.2", ("low", "medium", "high", "xhigh", "xhigh")),
        ("gpt-5.6", ("low", "medium", "high", "xhigh", "max")),
        # gpt-4o does not reason: effort has no equivalent there and, as Anthropic documents
        # it as guidance on how much to spend, it is advisory rather than a 400.
        ("gpt-4o", (None,) * 5),
    ],
)
def test_every_effort_level_works_on_every_model_family(
    client: anthropic.Anthropic, fake: FakeOpenAI, model: str, sent: tuple[str | None, ...]
) -> None:
    for effort in EFFORTS:
        message = both_ways(
            client,
            fake,
            Answer(content=["ok"], reasoning_tokens=0),
            model=model,
            output_config={"effort": effort},
            thinking={"type": "adaptive"},
        )
        assert [b.type for b in message.content] == ["text"]  # effort alone shows no thinking
    assert tuple(r.body.get("reasoning_effort") for r in fake.requests[::2]) == sent


def test_thinking_disabled_on_reasoning_models(
    client: anthropic.Anthropic, fake: FakeOpenAI
) -> None:
    for model in ("o3", "gpt-5", "gpt-5.1"):
        both_ways(client, fake, Answer(content=["ok"]), model=model, thinking={"type": "disabled"})
    assert [r.body["reasoning_effort"] for r in fake.requests[::2]] == ["low", "minimal", "none"]


# --- structured outputs ----------------------------------------------------------------------


def test_structured_output_comes_back_as_a_json_text_block(
    client: anthropic.Anthropic, fake: FakeOpenAI
) -> None:
    text = '{"name": "Standup", "day": "Thursday"}'
    message = both_ways(
        client,
        fake,
        Answer(content=['{"name": "Stand', 'up", "day": "Thursday"}']),
        output_config={"format": {"type": "json_schema", "schema": EVENT_SCHEMA}},
    )
    assert [(b.type, b.text) for b in message.content if b.type == "text"] == [("text", text)]
    assert json.loads(text) == {"name": "Standup", "day": "Thursday"}
    for recorded in fake.requests:
        assert recorded.body["response_format"]["json_schema"] == {
            "name": "response",
            "schema": EVENT_SCHEMA,
            "strict": True,
        }


def test_structured_output_with_optional_fields_is_sent_without_strict(
    client: anthropic.Anthropic, fake: FakeOpenAI
) -> None:
    schema = {**EVENT_SCHEMA, "required": ["name"]}
    both_ways(
        client,
        fake,
        Answer(content=['{"name": "Standup"}']),
        extra_body={"output_format": {"type": "json_schema", "schema": schema}},
    )
    assert fake.requests[-1].body["response_format"]["json_schema"]["strict"] is False


def test_strict_tools(client: anthropic.Anthropic, fake: FakeOpenAI) -> None:
    answer = Answer(
        tool_calls=[ToolCall("lookup", ['{"word": "gate"}'])], finish_reason="tool_calls"
    )
    message = both_ways(client, fake, answer, tools=[{**LOOKUP, "strict": True}])
    assert message.stop_reason == "tool_use"
    assert fake.requests[-1].body["tools"][0]["function"]["strict"] is True


# --- tool ids across providers ---------------------------------------------------------------


def test_tool_ids_are_anthropic_shaped_and_round_trip(
    client: anthropic.Anthropic, fake: FakeOpenAI
) -> None:
    call = ToolCall("lookup", ['{"word": "gate"}'])
    message = both_ways(
        client, fake, Answer(tool_calls=[call], finish_reason="tool_calls"), tools=[LOOKUP]
    )
    tool_use = message.content[0]
    assert tool_use.type == "tool_use" and tool_use.id.startswith("toolu_")
    # The next turn also carries a call Anthropic issued earlier in the conversation.
    history = [
        {"role": "user", "content": "define gate"},
        *tool_turn("toolu_01XFDUDYJgAACzvnptvVoYEL", "lookup", {"word": "gateway"}, "a device"),
        *tool_turn(tool_use.id, tool_use.name, tool_use.input, "a door"),
    ]
    both_ways(client, fake, Answer(content=["A door."]), tools=[LOOKUP], messages=history)
    sent = fake.requests[-1].body["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "toolu_01XFDUDYJgAACzvnptvVoYEL"
    assert sent[3]["tool_calls"][0]["id"] == call.id  # OpenAI gets its own id back
    assert sent[4] == {"role": "tool", "tool_call_id": call.id, "content": "a door"}


# --- usage in message_start ------------------------------------------------------------------


def test_a_streams_message_start_counts_the_input(
    servers: tuple[FakeOpenAI, str], fake: FakeOpenAI
) -> None:
    fake.enqueue(Answer(content=["Hi"], prompt_tokens=31))
    payload = {
        "model": "gpt-4o",
        "max_tokens": 50,
        "stream": True,
        "system": "You are a careful assistant.",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "tools": [LOOKUP],
    }
    response = httpx.post(f"{servers[1]}/v1/messages", json=payload, timeout=10)
    assert response.status_code == 200
    events = check_stream(response.content)
    assert events[0]["type"] == "message_start"
    assert events[0]["message"]["usage"]["input_tokens"] > 20
    assert events[-2]["usage"]["input_tokens"] == 31  # OpenAI's own count is final


# --- Claude Code's habits --------------------------------------------------------------------


@pytest.mark.parametrize("model", ["o3", "gpt-5"])
def test_max_tokens_1_probe_on_a_reasoning_model_is_a_200(
    client: anthropic.Anthropic, fake: FakeOpenAI, model: str
) -> None:
    # The model would think for 200 tokens; with one allowed, OpenAI answers "length", empty.
    message = both_ways(
        client, fake, Answer(content=["Hello!"], reasoning_tokens=200), model=model, max_tokens=1
    )
    assert message.stop_reason == "max_tokens" and message.content == []
    assert fake.requests[-1].body["max_completion_tokens"] == 1


def test_a_tool_found_through_tool_search_is_declared_and_callable(
    client: anthropic.Anthropic, fake: FakeOpenAI
) -> None:
    tool_search = {
        "name": "ToolSearch",
        "description": "Find deferred tools",
        "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
    }
    deferred = {**LOOKUP, "defer_loading": True}
    reference = [{"type": "tool_reference", "tool_name": "lookup"}]
    messages = [
        {"role": "user", "content": "define gate"},
        *tool_turn("toolu_01S", "ToolSearch", {"query": "dictionary"}, reference),
    ]
    answer = Answer(
        tool_calls=[ToolCall("lookup", ['{"word": "gate"}'])], finish_reason="tool_calls"
    )
    message = both_ways(client, fake, answer, tools=[tool_search, deferred], messages=messages)
    assert message.content[0].type == "tool_use" and message.content[0].name == "lookup"
    body = fake.requests[-1].body
    assert [t["function"]["name"] for t in body["tools"]] == ["ToolSearch", "lookup"]
    assert "now available" in body["messages"][2]["content"]


@pytest.mark.parametrize(
    "server_tool",
    [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 8},
        {"type": "web_fetch_20250910", "name": "web_fetch"},
    ],
)
def test_web_server_tools_are_a_400_naming_them(
    client: anthropic.Anthropic, fake: FakeOpenAI, server_tool: dict[str, Any]
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model="gpt-4o", max_tokens=100, messages=HI, tools=[cast(Any, server_tool)]
        )
    assert caught.value.status_code == 400
    assert server_tool["type"] in caught.value.message and "openai" in caught.value.message
    assert fake.requests == []  # refused before anything went upstream
