"""The same cases for every provider: the official anthropic SDK -> our gateway over HTTP -> each
provider's fake upstream over HTTP (see harness.py for how a provider is driven).

Every success case is asked twice, once as JSON and once streamed, and the two messages must
agree; upstream must receive the same request both times.
"""

from __future__ import annotations

import base64
import json
from typing import Any, cast

import anthropic
import httpx
import pytest
from anthropic.types import Message

from tests.sse_grammar import check_stream

from .harness import ERROR_KINDS, Block, ErrorKind, ProviderHarness, Scenario, SentResult

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
    "required": ["city"],
}
TOOLS: list[dict[str, Any]] = [
    {"name": "get_weather", "description": "Current weather", "input_schema": WEATHER_SCHEMA},
    {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
]
PNG_1PX = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
    )
).decode()
BUDGET = 2048
THINKING = {"type": "enabled", "budget_tokens": BUDGET}


def hello(text: str = "Hi") -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def both_ways(
    client: anthropic.Anthropic, harness: ProviderHarness, scenario: Scenario, **request: Any
) -> Message:
    """Ask once without and once with streaming; both must give the scenario's message."""
    return both_answers(client, harness, scenario, **request)[0]


def both_answers(
    client: anthropic.Anthropic, harness: ProviderHarness, scenario: Scenario, **request: Any
) -> tuple[Message, Message]:
    """`both_ways`, returning the JSON and the streamed message."""
    request = {"model": harness.model, "max_tokens": 1024, **request}
    harness.enqueue(scenario.reply, scenario.reply)
    whole = client.messages.create(**request)
    with client.messages.stream(**request) as stream:
        streamed = stream.get_final_message()
    first, second = harness.requests[-2:]
    assert (first.streaming, second.streaming) == (False, True)
    assert first.prompt == second.prompt, "streaming changed what upstream was asked"
    assert comparable(streamed) == comparable(whole)
    assert blocks(whole) == scenario.content
    assert (whole.stop_reason, whole.stop_sequence) == (
        scenario.stop_reason,
        scenario.stop_sequence,
    )
    assert whole.model == request["model"]
    assert whole.usage.input_tokens > 0 and whole.usage.output_tokens > 0
    return whole, streamed


def comparable(message: Message) -> dict[str, Any]:
    """Message and tool ids may be minted per response; everything else must match."""
    data = message.model_dump()
    data.pop("id")
    for block in data["content"]:
        if block["type"] == "tool_use":
            block.pop("id")
    return data


def blocks(message: Message) -> list[Block]:
    out: list[Block] = []
    for block in message.content:
        match block.type:
            case "text":
                out.append(("text", block.text))
            case "thinking":
                out.append(("thinking", block.thinking))
            case "tool_use":
                out.append(("tool_use", (block.name, block.input)))
            case other:
                raise AssertionError(f"unexpected block {other}")
    return out


def tool_uses(message: Message) -> list[anthropic.types.ToolUseBlock]:
    return [block for block in message.content if block.type == "tool_use"]


# --- what the client sends reaches upstream ----------------------------------------------------


def test_text(client: anthropic.Anthropic, harness: ProviderHarness) -> None:
    both_ways(client, harness, harness.text("Hello there, friend", chunks=3), messages=hello())
    sent = harness.requests[-1].json
    assert harness.sent_texts(sent) == [("user", "Hi")]
    assert harness.sent_system(sent) == []
    assert harness.sent_max_tokens(sent) == 1024
    assert harness.sent_reasoning(sent) is None


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        ("Be terse.", ["Be terse."]),
        (
            [{"type": "text", "text": "Be terse."}, {"type": "text", "text": "Answer in French."}],
            ["Be terse.", "Answer in French."],
        ),
    ],
    ids=["string", "blocks"],
)
def test_system(
    client: anthropic.Anthropic, harness: ProviderHarness, system: Any, expected: list[str]
) -> None:
    both_ways(client, harness, harness.text("Oui."), messages=hello(), system=system)
    sent = harness.requests[-1].json
    assert harness.sent_system(sent) == expected
    assert harness.sent_texts(sent) == [("user", "Hi")]  # not folded into the conversation


def test_conversation_keeps_its_turns(
    client: anthropic.Anthropic, harness: ProviderHarness
) -> None:
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": [{"type": "text", "text": "Tell me a joke."}]},
    ]
    both_ways(client, harness, harness.text("Knock knock."), messages=messages)
    assert harness.sent_texts(harness.requests[-1].json) == [
        ("user", "Hi"),
        ("assistant", "Hello! How can I help?"),
        ("user", "Tell me a joke."),
    ]


def test_image(client: anthropic.Anthropic, harness: ProviderHarness) -> None:
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_1PX}},
        {"type": "text", "text": "What is this?"},
    ]
    messages = [{"role": "user", "content": content}]
    both_ways(client, harness, harness.text("A single pixel."), messages=messages)
    sent = harness.requests[-1].json
    assert harness.sent_images(sent) == [("image/png", PNG_1PX)]
    assert harness.sent_texts(sent) == [("user", "What is this?")]


def test_stop_sequences(client: anthropic.Anthropic, harness: ProviderHarness) -> None:
    scenario = harness.stop_sequence("Counting: one, two, ", "three")
    both_ways(client, harness, scenario, messages=hello(), stop_sequences=["three", "END"])
    assert harness.sent_stop_sequences(harness.requests[-1].json) == ["three", "END"]


def test_max_tokens(client: anthropic.Anthropic, harness: ProviderHarness) -> None:
    both_ways(client, harness, harness.max_tokens("Once upon a"), messages=hello(), max_tokens=3)
    assert harness.sent_max_tokens(harness.requests[-1].json) == 3


# --- tools --------------------------------------------------------------------------------------


def test_tools_and_results_round_trip(
    client: anthropic.Anthropic, harness: ProviderHarness
) -> None:
    calls = [("get_weather", {"city": "Paris", "unit": "C"}), ("get_time", {})]
    messages = hello("Weather and time in Paris?")
    first = both_ways(
        client,
        harness,
        harness.tool_calls(calls, preamble="Let me check."),
        messages=messages,
        tools=TOOLS,
    )
    sent = harness.requests[-1].json
    assert harness.sent_tools(sent) == {
        "get_weather": ("Current weather", WEATHER_SCHEMA),
        "get_time": (None, {"type": "object", "properties": {}}),
    }
    assert harness.sent_tool_choice(sent) is None

    weather, clock = tool_uses(first)
    messages = [
        *messages,
        {"role": "assistant", "content": [block.to_dict() for block in first.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": weather.id, "content": "18°C, cloudy"},
                {
                    "type": "tool_result",
                    "tool_use_id": clock.id,
                    "content": [{"type": "text", "text": "clock unavailable"}],
                    "is_error": True,
                },
            ],
        },
    ]
    both_ways(
        client,
        harness,
        harness.text("It is 18°C; I could not get the time."),
        messages=messages,
        tools=TOOLS,
    )
    sent = harness.requests[-1].json
    assert harness.sent_tool_calls(sent) == calls
    assert harness.sent_tool_results(sent) == [
        SentResult(harness.call_ref(weather.id, weather.name), "18°C, cloudy", False),
        SentResult(harness.call_ref(clock.id, clock.name), "clock unavailable", True),
    ]
    assert harness.sent_texts(sent) == [
        ("user", "Weather and time in Paris?"),
        ("assistant", "Let me check."),
    ]
    if harness.relays_request:
        # Nothing to translate: the conversation goes up exactly as the client wrote it.
        assert harness.requests[-1].prompt["messages"] == json.loads(json.dumps(messages))


@pytest.mark.parametrize(
    "choice",
    [
        {"type": "auto"},
        {"type": "any"},
        {"type": "tool", "name": "get_weather"},
        {"type": "none"},
        {"type": "auto", "disable_parallel_tool_use": True},
    ],
    ids=["auto", "any", "tool", "none", "auto-serial"],
)
def test_tool_choice(
    client: anthropic.Anthropic, harness: ProviderHarness, choice: dict[str, Any]
) -> None:
    if choice["type"] == "none":
        scenario = harness.text("No tools needed.")
    else:
        forced = choice["type"] == "tool"
        scenario = harness.tool_calls([("get_weather", {"city": "Oslo"})], forced=forced)
    both_ways(client, harness, scenario, messages=hello("Oslo?"), tools=TOOLS, tool_choice=choice)
    sent = harness.sent_tool_choice(harness.requests[-1].json)
    assert sent == harness.carried_tool_choice(choice)


def test_parallel_calls_have_distinct_ids(
    client: anthropic.Anthropic, harness: ProviderHarness
) -> None:
    calls = [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]
    scenario = harness.tool_calls(calls)
    answers = both_answers(
        client, harness, scenario, messages=hello("Paris and Rome?"), tools=TOOLS
    )
    for message in answers:
        assert [(b.name, b.input) for b in tool_uses(message)] == calls
        assert len({b.id for b in tool_uses(message)}) == 2
        assert message.stop_reason == "tool_use"


def test_images_in_tool_results(client: anthropic.Anthropic, harness: ProviderHarness) -> None:
    screenshot = {"name": "screenshot", "input_schema": {"type": "object", "properties": {}}}
    messages = hello("What is on screen?")
    first = both_ways(
        client,
        harness,
        harness.tool_calls([("screenshot", {})]),
        messages=messages,
        tools=[screenshot],
    )
    (call,) = tool_uses(first)
    image = {"type": "base64", "media_type": "image/png", "data": PNG_1PX}
    result = {
        "type": "tool_result",
        "tool_use_id": call.id,
        "content": [{"type": "text", "text": "1x1 screen"}, {"type": "image", "source": image}],
    }
    messages = [
        *messages,
        {"role": "assistant", "content": [block.to_dict() for block in first.content]},
        {"role": "user", "content": [result]},
    ]
    both_ways(client, harness, harness.text("One pixel."), messages=messages, tools=[screenshot])
    sent = harness.requests[-1].json
    assert harness.sent_images(sent) == [("image/png", PNG_1PX)]
    assert harness.sent_tool_results(sent) == [
        SentResult(harness.call_ref(call.id, call.name), "1x1 screen", False)
    ]


# --- thinking -----------------------------------------------------------------------------------


def test_thinking(client: anthropic.Anthropic, harness: ProviderHarness) -> None:
    scenario = harness.thinking_then_text("Two plus two is four.", "The answer is 4.")
    message = both_ways(
        client,
        harness,
        scenario,
        model=harness.thinking_model,
        max_tokens=4096,
        messages=hello("2+2?"),
        thinking=THINKING,
    )
    sent = harness.requests[-1].json
    assert harness.sent_reasoning(sent) == harness.reasoning_for(BUDGET)
    for block in message.content:
        if block.type == "thinking":
            assert block.signature, "a thinking block the client cannot send back"


def test_thinking_survives_a_tool_round_trip(
    client: anthropic.Anthropic, harness: ProviderHarness
) -> None:
    request: dict[str, Any] = {
        "model": harness.thinking_model,
        "max_tokens": 4096,
        "tools": TOOLS,
        "thinking": THINKING,
    }
    messages = hello("Weather in Paris?")
    scenario = harness.tool_calls([("get_weather", {"city": "Paris"})], thinking="Ask the tool.")
    first = both_ways(client, harness, scenario, messages=messages, **request)
    issued = [b.signature for b in first.content if b.type == "thinking" and b.signature]
    (call,) = tool_uses(first)
    messages = [
        *messages,
        {"role": "assistant", "content": [block.to_dict() for block in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18°C"}],
        },
    ]
    both_ways(client, harness, harness.text("18°C."), messages=messages, **request)
    sent = harness.requests[-1].json
    assert harness.sent_signatures(sent) == harness.returned_signatures(issued)
    assert harness.sent_reasoning(sent) == harness.reasoning_for(BUDGET)


# --- errors -------------------------------------------------------------------------------------


# --- effort and structured outputs ---------------------------------------------------------------

EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")


def test_every_effort_level_is_carried(
    client: anthropic.Anthropic, harness: ProviderHarness
) -> None:
    """Each level reaches upstream as its own reasoning setting, in order; effort alone never
    turns on visible thinking (Anthropic shows thinking only when `thinking` asks for it)."""
    ranks: list[int | None] = []
    for effort in EFFORT_LEVELS:
        scenario = harness.text(f"Answer at {effort}.")
        both_ways(
            client,
            harness,
            scenario,
            model=harness.thinking_model,
            messages=hello("2+2?"),
            output_config={"effort": effort},
        )
        sent = harness.requests[-1].json
        assert not harness.shows_thinking(sent), effort
        ranks.append(harness.sent_effort_rank(sent))
    assert None not in ranks, ranks
    known = cast(list[int], ranks)
    assert known == sorted(known) and known[0] < known[-1], ranks


def test_omitted_thinking_display_hides_reasoning(
    client: anthropic.Anthropic, harness: ProviderHarness
) -> None:
    scenario = harness.text("4")
    both_ways(
        client,
        harness,
        scenario,
        model=harness.thinking_model,
        max_tokens=4096,
        messages=hello("2+2?"),
        thinking={"type": "adaptive", "display": "omitted"},
    )
    assert not harness.shows_thinking(harness.requests[-1].json)


ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
    "required": ["city", "celsius"],
    "additionalProperties": False,
}


def test_structured_output(client: anthropic.Anthropic, harness: ProviderHarness) -> None:
    answer = '{"city": "Paris", "celsius": 21}'
    message = both_ways(
        client,
        harness,
        harness.text(answer),
        messages=hello("Weather in Paris as JSON"),
        output_config={"format": {"type": "json_schema", "schema": ANSWER_SCHEMA}},
    )
    assert harness.sent_output_schema(harness.requests[-1].json) == ANSWER_SCHEMA
    [block] = message.content
    assert block.type == "text" and json.loads(block.text) == {"city": "Paris", "celsius": 21}


def test_structured_output_beta_spelling(gateway_url: str, harness: ProviderHarness) -> None:
    """`output_format` (the structured-outputs beta) means what output_config.format means."""
    if harness.relays_request:
        pytest.skip("relayed verbatim; forwarding is covered in test_anthropic_passthrough.py")
    harness.enqueue(harness.text('{"city": "Oslo", "celsius": 3}').reply)
    body = {
        "model": harness.model,
        "max_tokens": 256,
        "messages": hello("Weather in Oslo as JSON"),
        "output_format": {"type": "json_schema", "schema": ANSWER_SCHEMA},
    }
    headers = {"anthropic-beta": "structured-outputs-2025-11-13"}
    answer = httpx.post(f"{gateway_url}/v1/messages", json=body, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert harness.sent_output_schema(harness.requests[-1].json) == ANSWER_SCHEMA
    assert json.loads(answer.json()["content"][0]["text"])["city"] == "Oslo"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("kind", ERROR_KINDS)
def test_upstream_errors_keep_their_meaning(
    client: anthropic.Anthropic,
    harness: ProviderHarness,
    kind: ErrorKind,
    stream: bool,
) -> None:
    expected = harness.error(kind)
    harness.enqueue(expected.reply)
    ask: dict[str, Any] = {"model": harness.model, "max_tokens": 64, "messages": hello()}
    with pytest.raises(anthropic.APIStatusError) as info:
        if stream:
            with client.messages.stream(**ask) as events:
                events.get_final_message()
        else:
            client.messages.create(**ask)
    error = info.value
    assert error.status_code == expected.status
    assert isinstance(error.body, dict)
    assert error.body["type"] == "error"
    assert error.body["error"]["type"] == expected.error_type
    assert expected.message_contains in error.body["error"]["message"]
    assert error.response.headers.get("retry-after") == expected.retry_after
    assert harness.api_key not in error.response.text


# --- the wire -----------------------------------------------------------------------------------


def test_raw_stream_grammar(gateway_url: str, harness: ProviderHarness) -> None:
    scenario = harness.tool_calls(
        [("get_weather", {"city": "Paris"}), ("get_time", {})], preamble="Checking both."
    )
    harness.enqueue(scenario.reply)
    body = {
        "model": harness.model,
        "max_tokens": 256,
        "stream": True,
        "messages": hello("Paris?"),
        "tools": TOOLS,
    }
    with httpx.stream("POST", f"{gateway_url}/v1/messages", json=body, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read()
    events = check_stream(raw)
    started = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    assert started == [kind for kind, _ in scenario.content]
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    assert events[-2]["usage"]["output_tokens"] > 0


# --- count_tokens -------------------------------------------------------------------------------


def test_count_tokens(client: anthropic.Anthropic, harness: ProviderHarness) -> None:
    """Counted upstream (Gemini, Anthropic) or locally (OpenAI has no endpoint for it);
    either way the system prompt and the tools count."""
    request: dict[str, Any] = {"model": harness.model, "messages": hello("How many tokens?")}
    bare = client.messages.count_tokens(**request).input_tokens
    request.update(system="Be terse.", tools=TOOLS)
    assert 0 < bare < client.messages.count_tokens(**request).input_tokens
