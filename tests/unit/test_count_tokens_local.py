"""count_tokens without the network: OpenAI's local count, and the Gemini/Anthropic requests."""

from __future__ import annotations

import importlib
from typing import Any

import orjson
import pytest
from ai_proxy import tokens
from ai_proxy.anthropic.envelope import ClientRequest
from ai_proxy.anthropic.models import CountTokensRequest
from ai_proxy.config import ProviderConfig, ProvidersConfig
from ai_proxy.errors import UpstreamError
from ai_proxy.providers.base import RequestContext
from ai_proxy.providers.gemini import GeminiProvider
from ai_proxy.providers.gemini.request import to_gemini_count_tokens_request
from ai_proxy.providers.openai import OpenAIProvider
from ai_proxy.tokens import TokenCounter, count_request_tokens, counter_for, encoding_for_model

from tests.fakes.gemini_schema import COUNT_TOKENS_REQUEST, schema_violations

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def request(**fields: Any) -> CountTokensRequest:
    payload = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello world"}]}
    return CountTokensRequest.model_validate({**payload, **fields})


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4.1-mini", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("o3", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("openai/gpt-4-0613", "cl100k_base"),
    ],
)
def test_count_tokens_encoding_for_model(model: str, encoding: str) -> None:
    assert encoding_for_model(model) == encoding


def test_count_tokens_tokenizer_is_exact_and_offline() -> None:
    # Values cross-checked against tiktoken with OpenAI's published BPE files.
    o200k, cl100k = counter_for("o200k_base"), counter_for("cl100k_base")
    assert o200k.exact and cl100k.exact
    assert o200k.count("Grüße, 世界! 🚀") == 8
    assert cl100k.count("Grüße, 世界! 🚀") == 12
    assert o200k.count("hello world") == 2


def test_count_tokens_chat_framing() -> None:
    # reply priming 3 + system (3 + "system" 1 + 4) + user (3 + "user" 1 + "hello world" 2)
    assert count_request_tokens(request(system="You are terse."), "gpt-4o") == 17
    blocks = [{"type": "text", "text": "You are"}, {"type": "text", "text": "terse."}]
    assert count_request_tokens(request(system=blocks), "gpt-4o") > 3 + 3 + 1 + 2


def test_count_tokens_tools_and_tool_traffic_are_counted() -> None:
    base = count_request_tokens(request(), "gpt-4o")
    with_tool = count_request_tokens(request(tools=[WEATHER_TOOL]), "gpt-4o")
    assert with_tool - base == tokens.TOKENS_PER_TOOL + 2 + 4 + 14
    conversation = [
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "not sent to OpenAI", "signature": "x"},
                {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "P"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}],
        },
    ]
    counted = count_request_tokens(request(messages=conversation), "gpt-4o")
    o200k = counter_for("o200k_base")
    expected = (
        3
        + (3 + 1 + o200k.count("weather in Paris?"))
        + (3 + o200k.count("assistant") + 2 + o200k.count('{"city":"P"}'))
        + (3 + 1 + 3 + o200k.count("sunny"))
    )
    assert counted == expected


def test_count_tokens_images_use_a_fixed_estimate() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://x/cat.png"}}
    with_image = [{"role": "user", "content": [image, {"type": "text", "text": "hello world"}]}]
    difference = count_request_tokens(
        request(messages=with_image), "gpt-4o"
    ) - count_request_tokens(request(), "gpt-4o")
    assert difference == tokens.IMAGE_TOKENS


def test_count_tokens_estimate_without_the_tokenizer() -> None:
    estimate = TokenCounter("o200k_base", exact=False, _encoder=None)
    assert estimate.count("") == 0
    assert estimate.count("abcd") == 1
    assert estimate.count("abcde") == 2
    assert count_request_tokens(request(), "gpt-4o", estimate) == 3 + 3 + 1 + 3


def test_count_tokens_falls_back_when_quicktok_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = importlib.import_module  # the module tokens.py imports from

    def no_quicktok(name: str) -> Any:
        if name == "quicktok":
            raise ImportError(name)
        return real_import(name)

    counter_for.cache_clear()
    monkeypatch.setattr(importlib, "import_module", no_quicktok)
    try:
        counter = counter_for("o200k_base")
        assert not counter.exact
        assert counter.count("hello world") == 3
    finally:
        counter_for.cache_clear()


def test_count_tokens_openai_counts_locally() -> None:
    provider = OpenAIProvider(ProvidersConfig().get("openai"))
    context = RequestContext("gpt-4o", "gpt-4o", "req_1")
    client = ClientRequest.from_body(orjson.dumps(request().model_dump(by_alias=True)))
    assert provider.build_count_tokens_request(client, context, "sk") is None
    assert provider.count_tokens_locally(client, context) == count_request_tokens(
        request(), "gpt-4o"
    )


def test_count_tokens_gemini_request_includes_system_and_tools() -> None:
    counted = request(
        model="gemini-2.5-flash",
        system="You are terse.",
        tools=[WEATHER_TOOL],
        tool_choice={"type": "auto"},
        messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": "which city?"},
            {"role": "user", "content": "Paris"},
        ],
    )
    body = to_gemini_count_tokens_request(counted, "gemini-2.5-flash")
    assert schema_violations(body, COUNT_TOKENS_REQUEST) == []
    inner = body["generateContentRequest"]
    assert inner["model"] == "models/gemini-2.5-flash"
    assert inner["systemInstruction"] == {"parts": [{"text": "You are terse."}]}
    assert inner["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert [c["role"] for c in inner["contents"]] == ["user", "model", "user"]
    assert "generationConfig" not in inner  # max_tokens is not part of a count request


def test_count_tokens_gemini_upstream_call_and_answer() -> None:
    provider = GeminiProvider(ProviderConfig(base_url="https://g.example"))
    context = RequestContext("flash", "gemini-2.5-flash", "req_1")
    client = ClientRequest.from_body(orjson.dumps(request().model_dump(by_alias=True)))
    built = provider.build_count_tokens_request(client, context, "g-key")
    assert built is not None
    assert built.url == "https://g.example/v1beta/models/gemini-2.5-flash:countTokens"
    assert built.headers["x-goog-api-key"] == "g-key" and "g-key" not in built.url
    assert "generateContentRequest" in orjson.loads(built.body)
    assert provider.parse_count_tokens(b'{"totalTokens": 31, "promptTokensDetails": []}') == 31
    assert provider.parse_count_tokens(b"{}") == 0  # proto3 JSON omits zero
    with pytest.raises(UpstreamError):
        provider.parse_count_tokens(b"not json")


def test_count_tokens_blocks_carried_as_text_are_counted() -> None:
    base = count_request_tokens(request(), "gpt-4o")
    search_result = {
        "type": "search_result",
        "source": "https://docs.example/rates",
        "title": "Rate limits",
        "content": [{"type": "text", "text": "1000 requests per minute."}],
    }
    history = [
        {"role": "user", "content": [search_result, {"type": "text", "text": "hello world"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"q": "x"}},
                {
                    "type": "web_search_tool_result",
                    "tool_use_id": "s1",
                    "content": [
                        {
                            "type": "web_search_result",
                            "title": "Python",
                            "url": "https://python.org",
                            "encrypted_content": "E" * 4000,  # never sent, never counted
                        }
                    ],
                },
            ],
        },
        {"role": "user", "content": "hello world"},
    ]
    counted = count_request_tokens(request(messages=history), "gpt-4o")
    o200k = counter_for("o200k_base")
    assert counted - base > o200k.count("1000 requests per minute.") + o200k.count("Python")
    assert counted - base < 100


def test_count_tokens_tool_search_declares_every_deferred_tool() -> None:
    deferred = {**WEATHER_TOOL, "defer_loading": True}
    search = {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"}
    hidden = count_request_tokens(request(tools=[deferred]), "gpt-4o")
    declared = count_request_tokens(request(tools=[search, deferred]), "gpt-4o")
    assert hidden == count_request_tokens(request(), "gpt-4o")
    assert declared == count_request_tokens(request(tools=[WEATHER_TOOL]), "gpt-4o")


def message_start_input_tokens() -> int:
    provider = OpenAIProvider(ProvidersConfig().get("openai"))
    payload = {**request().model_dump(by_alias=True), "max_tokens": 10, "stream": True}
    client = ClientRequest.from_body(orjson.dumps(payload))
    context = RequestContext("gpt-4o", "gpt-4o", "req_1", client_request=client)
    translator = provider.new_translator(context)
    first: dict[str, Any] = {"object": "chat.completion.chunk", "choices": [], "usage": None}
    tokens_: int = translator.feed_payload(first)[0]["message"]["usage"]["input_tokens"]
    return tokens_


def test_count_tokens_the_openai_translator_counts_for_message_start() -> None:
    counter_for("o200k_base")  # loaded, as after any count_tokens call
    assert message_start_input_tokens() == count_request_tokens(request(), "gpt-4o")


def test_count_tokens_message_start_never_waits_for_the_tokenizer_to_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tokens, "_loaded", {})  # a process that has not loaded it yet
    estimate = TokenCounter("o200k_base", exact=False, _encoder=None)
    assert message_start_input_tokens() == count_request_tokens(request(), "gpt-4o", estimate)
