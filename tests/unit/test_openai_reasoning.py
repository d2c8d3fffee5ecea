"""Effort and thinking -> reasoning_effort, per model family. The fake OpenAI's validator knows
which values each model takes on its own, so a wrong entry in limits.py fails here."""

from __future__ import annotations

from typing import Any

import pytest
from ai_proxy.anthropic.accumulate import accumulate
from ai_proxy.anthropic.models import MessagesRequest
from ai_proxy.providers.openai.limits import reasoning_efforts
from ai_proxy.providers.openai.request import to_openai_request
from ai_proxy.providers.openai.response import OpenAIStreamTranslator

from tests.fakes.openai import (
    Answer,
    Rejected,
    render_chunks,
    render_completion,
    validate_request,
)

HI = [{"role": "user", "content": "hi"}]
EFFORTS = ("low", "medium", "high", "xhigh", "max")


def effort_sent(model: str, **fields: Any) -> str | None:
    payload = {"model": model, "max_tokens": 1024, "messages": HI, **fields}
    body = to_openai_request(MessagesRequest.model_validate(payload), model)
    validate_request(body)
    sent: str | None = body.get("reasoning_effort")
    return sent


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # o-series: low/medium/high; xhigh and max become the highest it has.
        ("o3", ("low", "medium", "high", "high", "high")),
        ("o4-mini", ("low", "medium", "high", "high", "high")),
        ("gpt-5", ("low", "medium", "high", "high", "high")),
        ("gpt-5-mini", ("low", "medium", "high", "high", "high")),
        ("gpt-5.1", ("low", "medium", "high", "high", "high")),
        ("gpt-5.2", ("low", "medium", "high", "xhigh", "xhigh")),
        ("gpt-5.6", ("low", "medium", "high", "xhigh", "max")),
    ],
)
def test_every_effort_level_maps_onto_what_the_model_takes(
    model: str, expected: tuple[str, ...]
) -> None:
    sent = tuple(effort_sent(model, output_config={"effort": e}) for e in EFFORTS)
    assert sent == expected


@pytest.mark.parametrize(
    ("model", "lowest"), [("o3", "low"), ("gpt-5", "minimal"), ("gpt-5.1", "none")]
)
def test_thinking_disabled_is_the_least_reasoning_the_model_does(model: str, lowest: str) -> None:
    assert effort_sent(model, thinking={"type": "disabled"}) == lowest
    # Disabled wins over an effort sent alongside it.
    assert effort_sent(model, thinking={"type": "disabled"}, output_config={"effort": "high"}) == (
        lowest
    )


def test_effort_on_a_model_that_does_not_reason_is_advisory() -> None:
    for effort in EFFORTS:
        assert effort_sent("gpt-4o", output_config={"effort": effort}) is None
    assert effort_sent("gpt-4o", thinking={"type": "disabled"}) is None


def test_display_omitted_and_newer_thinking_types_are_accepted() -> None:
    omitted = {"type": "adaptive", "display": "omitted"}
    assert effort_sent("o3", thinking=omitted, output_config={"effort": "xhigh"}) == "high"
    assert effort_sent("gpt-5", thinking={"type": "between_tools"}) is None


def test_the_effort_table_by_name() -> None:
    assert reasoning_efforts("gpt-5-pro") == ("high",)
    assert reasoning_efforts("o1-mini") == ()
    assert reasoning_efforts("gpt-5-chat-latest") == ()
    assert reasoning_efforts("gpt-5.1-codex-max")[-1] == "xhigh"
    # A gpt-5.x newer than the table takes what the newest entry takes, not gpt-5's minimal.
    assert reasoning_efforts("gpt-5.9") == reasoning_efforts("gpt-5.6")
    assert "minimal" not in reasoning_efforts("gpt-5.10-mini")


def test_effort_below_the_lowest_the_model_takes_is_raised_to_it() -> None:
    payload = {"model": "gpt-5-pro", "max_tokens": 10, "messages": HI}
    request = MessagesRequest.model_validate({**payload, "output_config": {"effort": "low"}})
    assert to_openai_request(request, "gpt-5-pro")["reasoning_effort"] == "high"


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_never_becomes_a_thinking_block(stream: bool) -> None:
    answer = Answer(content=["42"], completion_tokens=300, reasoning_tokens=290)
    translator = OpenAIStreamTranslator("msg_1", "o3")
    if stream:
        events = [e for c in render_chunks(answer, "o3", True) for e in translator.feed_payload(c)]
        events += translator.finish()
    else:
        events = translator.feed_payload(render_completion(answer, "o3")) + translator.finish()
    message = accumulate(events)
    assert [block["type"] for block in message["content"]] == ["text"]
    assert message["usage"]["output_tokens"] == 300


@pytest.mark.parametrize(
    ("model", "effort"),
    [("gpt-5.1", "minimal"), ("gpt-5", "none"), ("o3", "xhigh"), ("o3", "minimal")],
)
def test_the_fake_refuses_efforts_the_model_does_not_take(model: str, effort: str) -> None:
    body = {"model": model, "messages": HI, "reasoning_effort": effort}
    with pytest.raises(Rejected) as caught:
        validate_request(body)
    assert caught.value.param == "reasoning_effort"
    assert f"'{effort}' is not supported with the '{model}' model" in caught.value.message
