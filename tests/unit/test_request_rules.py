"""Rules Anthropic enforces whatever the model are checked once, in the request model: every
translating provider answers the same 400 in the same words, for a generation and a count.
The Anthropic pass-through never parses the model: Anthropic enforces its own rules there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from ai_proxy.anthropic.envelope import ClientRequest
from ai_proxy.config import ProviderConfig
from ai_proxy.errors import InvalidRequest
from ai_proxy.providers.anthropic.request import to_anthropic_body
from ai_proxy.providers.base import Provider, RequestContext
from ai_proxy.providers.gemini import GeminiProvider
from ai_proxy.providers.openai import OpenAIProvider

HI = {"role": "user", "content": "hi"}
TOOL = {"name": "get_weather", "input_schema": {"type": "object"}}
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}
CALL = {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {}}


def result(tool_use_id: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": "sunny"}


PROVIDERS: dict[str, tuple[Provider, str]] = {
    "gemini": (GeminiProvider(ProviderConfig(base_url="https://g.example")), "gemini-2.5-flash"),
    "openai": (OpenAIProvider(ProviderConfig(base_url="https://o.example/v1")), "gpt-4.1"),
}


def generate(provider: str, payload: dict[str, Any]) -> None:
    translator, model = PROVIDERS[provider]
    request = ClientRequest.from_body(orjson.dumps({**payload, "model": model}))
    translator.build_request(request, RequestContext(model, model, "req_1"), "key")


def count(provider: str, payload: dict[str, Any]) -> None:
    translator, model = PROVIDERS[provider]
    request = ClientRequest.from_body(orjson.dumps({**payload, "model": model}))
    context = RequestContext(model, model, "req_1")
    if translator.build_count_tokens_request(request, context, "key") is None:
        translator.count_tokens_locally(request, context)


def refusals(call: Callable[[str, dict[str, Any]], None], payload: dict[str, Any]) -> set[str]:
    """Each provider's 400 for the payload as "status message": one answer means they agree."""
    answers = set()
    for provider in PROVIDERS:
        with pytest.raises(InvalidRequest) as caught:
            call(provider, payload)
        answers.add(f"{caught.value.status} {caught.value.message}")
    return answers


ORPHAN = (
    "400 unexpected `tool_use_id` found in `tool_result` blocks: toolu_01Gone. Each "
    "`tool_result` block must have a corresponding `tool_use` block in the previous message."
)

# (request fields, the one answer) for rules that hold for a generation and a count alike.
PROMPT_RULES: list[tuple[dict[str, Any], str]] = [
    (
        {"messages": [HI], "thinking": {"type": "enabled"}},
        "400 thinking.enabled.budget_tokens: Field required",
    ),
    (
        {"messages": [HI], "thinking": {"type": "enabled", "budget_tokens": 1023}},
        "400 thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
    ),
    (
        {"messages": [HI], "tools": [TOOL], "tool_choice": {"type": "tool"}},
        "400 tool_choice.name: required when tool_choice.type is 'tool'",
    ),
    (
        {"messages": [HI], "tools": [TOOL], "tool_choice": {"type": "tool", "name": "get_time"}},
        "400 tool_choice.name: tool 'get_time' is not among tools",
    ),
    (
        {"messages": [HI], "tool_choice": {"type": "tool", "name": "get_weather"}},
        "400 tool_choice.name: tool 'get_weather' is not among tools",
    ),
    # A result answering no call at all, and one that comes before its call.
    ({"messages": [HI, {"role": "user", "content": [result("toolu_01Gone")]}]}, ORPHAN),
    (
        {
            "messages": [
                {"role": "user", "content": [result("toolu_01A")]},
                {"role": "assistant", "content": [CALL]},
            ]
        },
        ORPHAN.replace("toolu_01Gone", "toolu_01A"),
    ),
    # Anthropic types a system message's content as text blocks: an image there is refused,
    # never dropped (Gemini used to drop it, OpenAI to refuse it).
    (
        {"messages": [HI, {"role": "system", "content": [{"type": "text", "text": "a"}, IMAGE]}]},
        "400 messages.1.content.1.type: Input should be 'text' "
        "(a system message holds text blocks only, not 'image')",
    ),
]


@pytest.mark.parametrize(("fields", "answer"), PROMPT_RULES)
def test_every_provider_refuses_a_generation_alike(fields: dict[str, Any], answer: str) -> None:
    assert refusals(generate, {"max_tokens": 4096, **fields}) == {answer}


@pytest.mark.parametrize(("fields", "answer"), PROMPT_RULES)
def test_every_provider_refuses_a_count_alike(fields: dict[str, Any], answer: str) -> None:
    assert refusals(count, fields) == {answer}


@pytest.mark.parametrize(
    "fields",
    [
        {"thinking": {"type": "enabled", "budget_tokens": 1024}},
        # With interleaved thinking (a beta header) Anthropic takes a budget above max_tokens.
        {"thinking": {"type": "enabled", "budget_tokens": 8192}},
        {"thinking": {"type": "adaptive"}},
        {"thinking": {"type": "disabled"}},
        {"tools": [TOOL], "tool_choice": {"type": "tool", "name": "get_weather"}},
        {"tool_choice": {"type": "auto"}},
        {
            "messages": [
                HI,
                {"role": "assistant", "content": [CALL]},
                {"role": "system", "content": [{"type": "text", "text": "be brief"}]},
                {"role": "user", "content": [result("toolu_01A")]},
            ],
            "tools": [TOOL],
        },
    ],
)
def test_every_provider_accepts_what_follows_the_rules(fields: dict[str, Any]) -> None:
    payload = {"max_tokens": 4096, "messages": [HI], **fields}
    for provider in PROVIDERS:
        generate(provider, payload)
        count(provider, payload)


def test_the_pass_through_leaves_the_rules_to_anthropic() -> None:
    payload = {"model": "claude", "max_tokens": 8, "messages": [HI]}
    payload["thinking"] = {"type": "enabled"}
    request = ClientRequest.from_body(orjson.dumps(payload))  # the edge reads model and stream
    body = orjson.loads(to_anthropic_body(request.body, "claude-sonnet-4-5"))
    assert body["thinking"] == {"type": "enabled"}
