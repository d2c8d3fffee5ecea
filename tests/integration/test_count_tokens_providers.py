"""POST /v1/messages/count_tokens through the official SDK, for every provider: Gemini's
countTokens (via its fake), Anthropic's own endpoint (via its fake), OpenAI counted locally."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from ai_proxy.auth import hash_key
from ai_proxy.providers.gemini.signatures import to_our_signature
from ai_proxy.tokens import counter_for

from tests.fakes.anthropic import FakeAnthropic, overloaded
from tests.fakes.gemini import FakeGemini, rate_limited
from tests.fakes.gemini_render import count_tokens as gemini_count
from tests.gateway_server import make_config, serve_gateway

CLIENT_KEY = "aip_count-tokens-client-key"
# Nothing listens there: an OpenAI count that went upstream would fail the test.
UNREACHABLE = "http://127.0.0.1:9"
WEATHER_TOOL: anthropic.types.ToolParam = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
CONVERSATION: list[Any] = [
    {"role": "user", "content": "What is the weather in Paris today?"},
    {"role": "assistant", "content": "Let me check."},
    {"role": "user", "content": "Thanks, and tomorrow?"},
]


@pytest.fixture(scope="module")
def anthropic_fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(client_keys={CLIENT_KEY}) as server:
        yield server


@pytest.fixture(scope="module")
def gemini_fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@pytest.fixture(scope="module")
def gateway_url(anthropic_fake: FakeAnthropic, gemini_fake: FakeGemini) -> Iterator[str]:
    config = make_config(
        {
            "anthropic": anthropic_fake.base_url,
            "gemini": gemini_fake.base_url,
            "openai": UNREACHABLE,
        },
        keys={"anthropic": anthropic_fake.api_key, "gemini": gemini_fake.api_key, "openai": "sk-o"},
        auth={"client_keys": [{"name": "tests", "sha256": hash_key(CLIENT_KEY)}]},
        retries={"max_retries": 0},
        routing={
            "aliases": {
                "house-model": "anthropic/claude-opus-4-8",
                "counted-fallback": ["anthropic/claude-haiku-4-5", "gemini/gemini-2.5-flash"],
            }
        },
    )
    with serve_gateway(config) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh(anthropic_fake: FakeAnthropic, gemini_fake: FakeGemini) -> Iterator[None]:
    anthropic_fake.reset()
    gemini_fake.reset()
    yield
    assert anthropic_fake.leaks == []


@pytest.fixture
def client(gateway_url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway_url, api_key=CLIENT_KEY, max_retries=0) as sdk:
        yield sdk


def test_count_tokens_gemini_counts_system_and_tools_upstream(
    client: anthropic.Anthropic, gemini_fake: FakeGemini
) -> None:
    counted = client.messages.count_tokens(
        model="gemini-2.5-flash",
        system="You are a weather bot.",
        tools=[WEATHER_TOOL],
        messages=CONVERSATION,
    )
    recorded = gemini_fake.requests[-1]
    assert (recorded.model, recorded.action) == ("gemini-2.5-flash", "countTokens")
    assert recorded.headers["x-goog-api-key"] == gemini_fake.api_key
    inner = recorded.json["generateContentRequest"]
    assert inner["systemInstruction"]["parts"][0]["text"] == "You are a weather bot."
    assert inner["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert counted.input_tokens == gemini_count(recorded.json) > 0
    without_tools = client.messages.count_tokens(model="gemini-2.5-flash", messages=CONVERSATION)
    assert without_tools.input_tokens < counted.input_tokens


def test_count_tokens_gemini_error_passes_as_anthropic_error(
    client: anthropic.Anthropic, gemini_fake: FakeGemini
) -> None:
    gemini_fake.enqueue_count_tokens(rate_limited(retry_delay="3s"))
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.count_tokens(model="gemini-2.5-flash", messages=CONVERSATION)
    assert caught.value.response.headers["retry-after"] == "3"


def test_count_tokens_openai_counted_locally(client: anthropic.Anthropic) -> None:
    counted = client.messages.count_tokens(
        model="gpt-4o",
        system="You are terse.",
        messages=[{"role": "user", "content": "hello world"}],
    )
    # reply priming 3 + system (3 + 1 + 4) + user (3 + 1 + 2), with the real o200k tokenizer
    assert counted.input_tokens == 17
    assert counter_for("o200k_base").exact
    with_tools = client.messages.count_tokens(
        model="openai/gpt-4.1", tools=[WEATHER_TOOL], messages=CONVERSATION
    )
    assert with_tools.input_tokens > 3 + 3 * 3


def test_count_tokens_anthropic_pass_through(
    client: anthropic.Anthropic, anthropic_fake: FakeAnthropic
) -> None:
    anthropic_fake.enqueue_count_tokens(1234)
    history: list[Any] = [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "thinking",
                    "thinking": "t",
                    "signature": to_our_signature("c2ln", "gemini-2.5-flash"),
                },
                {"type": "text", "text": "a"},
            ],
        },
        {"role": "user", "content": "q2"},
    ]
    counted = client.messages.count_tokens(model="house-model", messages=history)
    assert counted.input_tokens == 1234
    recorded = anthropic_fake.requests[-1]
    assert recorded.path == "/v1/messages/count_tokens"
    assert recorded.json["model"] == "claude-opus-4-8"
    assert recorded.json["messages"][1]["content"] == [{"type": "text", "text": "a"}]
    assert recorded.headers["x-api-key"] == anthropic_fake.api_key


def test_count_tokens_beta_query(
    client: anthropic.Anthropic, anthropic_fake: FakeAnthropic, gateway_url: str
) -> None:
    counted = client.beta.messages.count_tokens(
        model="claude-opus-4-8", messages=CONVERSATION, betas=["context-1m-2025-08-07"]
    )
    assert counted.input_tokens > 0
    sent_to_gateway = anthropic_fake.requests[-1].headers["anthropic-beta"]
    assert "context-1m-2025-08-07" in sent_to_gateway.split(",")  # as the SDK sent it
    answer = httpx.post(
        f"{gateway_url}/v1/messages/count_tokens?beta=true",
        json={"model": "gemini-2.5-flash", "messages": CONVERSATION},
        headers={"x-api-key": CLIENT_KEY},
    )
    assert answer.status_code == 200 and set(answer.json()) == {"input_tokens"}
    answer = httpx.post(
        f"{gateway_url}/v1/messages/count_tokens?beta=true",
        json={"model": "claude-opus-4-8", "messages": CONVERSATION},
        headers={"x-api-key": CLIENT_KEY},
    )
    assert answer.status_code == 200
    assert anthropic_fake.requests[-1].query == {"beta": "true"}


def test_count_tokens_falls_back_like_messages(
    client: anthropic.Anthropic, anthropic_fake: FakeAnthropic, gemini_fake: FakeGemini
) -> None:
    anthropic_fake.enqueue_count_tokens(overloaded())
    response = client.messages.with_raw_response.count_tokens(
        model="counted-fallback", messages=CONVERSATION
    )
    assert response.headers["x-ai-proxy-served-by"] == "gemini/gemini-2.5-flash"
    assert response.parse().input_tokens == gemini_count(gemini_fake.requests[-1].json)
    assert len(anthropic_fake.requests) == 1


def test_count_tokens_bad_input(client: anthropic.Anthropic, gateway_url: str) -> None:
    with pytest.raises(anthropic.NotFoundError, match="not routed"):
        client.messages.count_tokens(model="llama-3-70b", messages=CONVERSATION)
    answer = httpx.post(
        f"{gateway_url}/v1/messages/count_tokens",
        json={"model": "gpt-4o"},
        headers={"x-api-key": CLIENT_KEY},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("messages")
    wrong_method = httpx.get(
        f"{gateway_url}/v1/messages/count_tokens", headers={"x-api-key": CLIENT_KEY}
    )
    assert wrong_method.status_code == 405
