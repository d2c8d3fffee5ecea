"""The conformance cases through every other door: Chat Completions, Responses and Gemini, each
with its own real SDK, to every provider harness (ingress x upstream, issue 17).

ingress_doors.py has one small adapter per door; the cases here are written once. Every
success case is asked as JSON and streamed, the two answers must agree, and upstream must get
the same request both times. Where a provider cannot show thinking, its harness's scenario
says so (no thinking expected) instead of the case being skipped, as in test_conformance.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from .harness import Call, ErrorKind, ProviderHarness, Scenario, SentResult
from .ingress_doors import BUDGET, DOORS, TOOL_DESCRIPTION, TOOL_NAME, Ask, Door, Reply, folded
from .test_conformance import PNG_1PX, WEATHER_SCHEMA


@pytest.fixture(params=list(DOORS))
def door(request: pytest.FixtureRequest, gateway_url: str) -> Iterator[Door]:
    chosen = DOORS[request.param](gateway_url)
    yield chosen
    chosen.close()


def shown(scenario: Scenario) -> tuple[str, str, list[Call]]:
    """What every door must show of the scenario: its text, its thinking, its calls."""

    def joined(kind: str) -> str:
        return "".join(value for block, value in scenario.content if block == kind)

    calls = [value for block, value in scenario.content if block == "tool_use"]
    return joined("text"), joined("thinking"), calls


def both_ways(
    door: Door, harness: ProviderHarness, scenario: Scenario, ask: Ask
) -> tuple[Reply, Reply]:
    """Ask as JSON, then streamed: both must show the scenario; returns both answers."""
    harness.enqueue(scenario.reply, scenario.reply)
    whole = door.ask(ask, stream=False)
    streamed = door.ask(ask, stream=True)
    first, second = harness.requests[-2:]
    assert (first.streaming, second.streaming) == (False, True)
    assert first.prompt == second.prompt, "streaming changed what upstream was asked"
    assert streamed == whole
    assert (whole.text, whole.thinking, whole.calls) == shown(scenario)
    assert whole.finish == door.finishes[scenario.stop_reason]
    assert whole.input_tokens > 0 and whole.output_tokens > 0
    return whole, streamed


def test_text(door: Door, harness: ProviderHarness) -> None:
    both_ways(door, harness, harness.text("Hello there, friend", chunks=3), Ask(harness.model))
    sent = harness.requests[-1].json
    assert harness.sent_texts(sent) == [("user", "Hi")]
    assert harness.sent_reasoning(sent) is None


def test_tool_call_then_its_result(door: Door, harness: ProviderHarness) -> None:
    calls: list[Call] = [(TOOL_NAME, {"city": "Paris", "unit": "C"})]
    ask = Ask(harness.model, "Weather in Paris?", schema=WEATHER_SCHEMA)
    scenario = harness.tool_calls(calls, preamble="Let me check.")
    first, _ = both_ways(door, harness, scenario, ask)
    sent = harness.requests[-1].json
    assert harness.sent_tools(sent) == {TOOL_NAME: (TOOL_DESCRIPTION, WEATHER_SCHEMA)}

    answer = replace(ask, answered=first, results=("18°C, cloudy",))
    both_ways(door, harness, harness.text("It is 18°C and cloudy."), answer)
    sent = harness.requests[-1].json
    assert harness.sent_tool_calls(sent) == calls
    (call_id,) = first.call_ids
    assert harness.sent_tool_results(sent) == [
        SentResult(harness.call_ref(call_id, TOOL_NAME), "18°C, cloudy", False)
    ]
    assert harness.sent_texts(sent) == [
        ("user", "Weather in Paris?"),
        ("assistant", "Let me check."),
    ]


def test_image(door: Door, harness: ProviderHarness) -> None:
    ask = Ask(harness.model, "What is this?", image=PNG_1PX)
    both_ways(door, harness, harness.text("A single pixel."), ask)
    sent = harness.requests[-1].json
    assert harness.sent_images(sent) == [("image/png", PNG_1PX)]
    assert harness.sent_texts(sent) == [("user", "What is this?")]


def test_thinking(door: Door, harness: ProviderHarness) -> None:
    scenario = harness.thinking_then_text("Two plus two is four.", "The answer is 4.")
    both_ways(door, harness, scenario, Ask(harness.thinking_model, "2+2?", reasoning=True))
    assert harness.sent_reasoning(harness.requests[-1].json) == harness.reasoning_for(BUDGET)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("kind", ["rate_limited", "overloaded"])
def test_upstream_errors_in_the_door_shape(
    door: Door, harness: ProviderHarness, kind: ErrorKind, stream: bool
) -> None:
    """A rate limit stays a 429 with its back-off; an overload (Anthropic's 529) is the 503
    both OpenAI and Google answer with."""
    expected = harness.error(kind)
    status = 503 if expected.status == 529 else expected.status
    error_class, error_kind = door.errors[status]
    harness.enqueue(expected.reply)
    with pytest.raises(error_class) as info:
        door.ask(Ask(harness.model), stream=stream)
    seen = door.seen_error(info.value)
    assert (seen.status, seen.kind) == (status, error_kind)
    assert seen.retry_after == expected.retry_after
    assert harness.api_key not in seen.body


def test_stream_events_come_in_order(door: Door, harness: ProviderHarness) -> None:
    """Text, then two calls: the stream says them in that order (and each door's reader
    checks its stream's grammar: the events' order and its proper end)."""
    calls: list[Call] = [(TOOL_NAME, {"city": "Paris"}), (TOOL_NAME, {"city": "Rome"})]
    scenario = harness.tool_calls(calls, preamble="Checking both.")
    ask = Ask(harness.model, "Paris and Rome?", schema=WEATHER_SCHEMA)
    whole, streamed = both_ways(door, harness, scenario, ask)
    assert streamed.order == folded(kind for kind, _ in scenario.content)
    assert whole.order in (None, streamed.order)
    for reply in (whole, streamed):
        assert len(set(reply.call_ids)) == 2 and all(reply.call_ids), reply.call_ids
