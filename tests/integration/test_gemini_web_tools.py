"""Anthropic's web_search and web_fetch on Gemini, end to end: the official anthropic SDK ->
our gateway over HTTP -> a fake Gemini that answers with grounding metadata.

Each answer is asked for twice, streamed and not; both must give the same message, and the
SDK's own stream accumulator must take every event.
"""

from __future__ import annotations

from typing import Any, cast

import anthropic
import httpx
import pytest
from anthropic.types import (
    CitationsWebSearchResultLocation,
    ServerToolUseBlock,
    TextBlock,
    WebFetchToolResultBlock,
    WebSearchResultBlock,
    WebSearchToolResultBlock,
)

from tests.fakes.gemini import Answer, FakeGemini, grounded_answer
from tests.integration import test_gemini_sdk
from tests.sse_grammar import check_stream

# The same fake Gemini, gateway and SDK client as the main SDK suite.
fake = test_gemini_sdk.fake
gateway_url = test_gemini_sdk.gateway_url
client = test_gemini_sdk.client
_fresh_fake = test_gemini_sdk._fresh_fake

MODEL = "gemini-2.5-flash"
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 8}
WEB_FETCH = {"type": "web_fetch_20250910", "name": "web_fetch"}
SOURCES = [
    ("https://vertexaisearch.cloud.google.com/grounding-api-redirect/AAA", "anthropic.com"),
    ("https://vertexaisearch.cloud.google.com/grounding-api-redirect/BBB", "github.com"),
]
ANSWER = "Claude Code 2.1 is the newest release. It ships a gateway protocol."


def ask(text: str) -> list[anthropic.types.MessageParam]:
    return [{"role": "user", "content": text}]


def both_ways(
    client: anthropic.Anthropic, fake: FakeGemini, reply: Answer, **request: Any
) -> tuple[anthropic.types.Message, list[str]]:
    """The message, asked for without and with streaming (both must match), and the types of
    the events the SDK's stream helper raised."""
    request = {"model": MODEL, "max_tokens": 1024, **request}
    fake.enqueue(reply, reply)
    whole: anthropic.types.Message = client.messages.create(**request)
    with client.messages.stream(**request) as stream:
        seen: list[str] = [event.type for event in stream]
        streamed = stream.get_final_message()
    assert [r.streaming for r in fake.requests[-2:]] == [False, True]
    assert _comparable(streamed) == _comparable(whole)
    return whole, seen


def _comparable(message: anthropic.types.Message) -> dict[str, Any]:
    """Server tool ids are minted per answer; everything else must match."""
    data = message.model_dump()
    data.pop("id")
    for block in data["content"]:
        block.pop("id", None)
        block.pop("tool_use_id", None)
    return data


def search_answer(chunks: int = 3) -> Answer:
    return grounded_answer(
        ANSWER,
        chunks=chunks,
        queries=["claude code latest version"],
        sources=SOURCES,
        supports=[
            ("Claude Code 2.1 is the newest release.", [0]),
            ("It ships a gateway protocol.", [0, 1]),
        ],
    )


def test_web_search_through_the_sdk(client: anthropic.Anthropic, fake: FakeGemini) -> None:
    message, seen = both_ways(
        client,
        fake,
        search_answer(),
        messages=ask("Perform a web search for the query: claude code latest version"),
        tools=[WEB_SEARCH],
    )
    assert fake.requests[-1].json["tools"] == [{"googleSearch": {}}]
    call, results, first, second = message.content
    assert isinstance(call, ServerToolUseBlock) and call.name == "web_search"
    assert call.id.startswith("srvtoolu_") and call.input == {"query": "claude code latest version"}
    assert isinstance(results, WebSearchToolResultBlock) and results.tool_use_id == call.id
    assert isinstance(results.content, list)
    assert all(isinstance(r, WebSearchResultBlock) for r in results.content)
    assert [(r.url, r.title) for r in results.content] == SOURCES
    assert isinstance(first, TextBlock) and isinstance(second, TextBlock)
    assert first.text + second.text == ANSWER
    assert first.citations is not None and second.citations is not None
    assert all(isinstance(c, CitationsWebSearchResultLocation) for c in second.citations)
    web_citations = cast(list[CitationsWebSearchResultLocation], second.citations)
    assert [c.url for c in web_citations] == [url for url, _ in SOURCES]
    assert message.stop_reason == "end_turn"
    assert message.usage.server_tool_use is not None
    assert message.usage.server_tool_use.web_search_requests == 1
    # The SDK's stream helper saw the query stream in and the citations arrive.
    assert "input_json" in seen and "citation" in seen and "text" in seen


def test_web_search_stream_keeps_anthropic_grammar(gateway_url: str, fake: FakeGemini) -> None:
    fake.enqueue(search_answer(chunks=4))
    body = {
        "model": MODEL,
        "max_tokens": 100,
        "stream": True,
        "messages": ask("latest claude code?"),
        "tools": [WEB_SEARCH],
    }
    with httpx.stream("POST", f"{gateway_url}/v1/messages", json=body, timeout=10) as response:
        assert response.status_code == 200
        events = check_stream(b"".join(response.iter_raw()))
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [b["type"] for b in starts] == [
        "server_tool_use",
        "web_search_tool_result",
        "text",
        "text",
    ]
    # The result block arrives whole, with its sources, in its content_block_start.
    assert [r["url"] for r in starts[1]["content"]] == [url for url, _ in SOURCES]


def test_web_fetch_through_the_sdk(client: anthropic.Anthropic, fake: FakeGemini) -> None:
    url = "https://code.claude.com/docs/en/llm-gateway-protocol"
    reply = grounded_answer(
        "The page asks gateways to forward headers.",
        sources=[(url, "LLM gateway protocol")],
        supports=[("The page asks gateways to forward headers.", [0])],
        fetched=[url],
    )
    message, _ = both_ways(
        client, fake, reply, messages=ask(f"What does {url} say?"), tools=[WEB_FETCH]
    )
    assert fake.requests[-1].json["tools"] == [{"urlContext": {}}]
    call, result, text = message.content
    assert isinstance(call, ServerToolUseBlock) and call.name == "web_fetch"
    assert call.input == {"url": url}
    assert isinstance(result, WebFetchToolResultBlock) and result.tool_use_id == call.id
    assert result.content.type == "web_fetch_result" and result.content.url == url
    assert result.content.content.title == "LLM gateway protocol"
    assert isinstance(text, TextBlock) and text.citations is not None
    assert message.usage.server_tool_use is not None
    assert message.usage.server_tool_use.web_fetch_requests == 1


@pytest.mark.parametrize("option", ["allowed_domains", "blocked_domains"])
def test_domain_filters_are_refused_by_name(
    client: anthropic.Anthropic, fake: FakeGemini, option: str
) -> None:
    """Gemini's Google Search cannot filter domains: the client must not get unfiltered
    results it asked to exclude."""
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(
            model=MODEL,
            max_tokens=100,
            messages=ask("news?"),
            tools=[{**WEB_SEARCH, option: ["example.com"]}],  # type: ignore[list-item]
        )
    assert option in info.value.message and "gemini" in info.value.message
    assert fake.requests == []


def test_web_search_next_to_functions_is_refused_before_gemini(
    client: anthropic.Anthropic, fake: FakeGemini
) -> None:
    bash = {"name": "Bash", "input_schema": {"type": "object"}}
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(
            model=MODEL,
            max_tokens=100,
            messages=ask("search and run"),
            tools=[bash, WEB_SEARCH],  # type: ignore[list-item]
        )
    assert "web_search" in info.value.message and "custom tools" in info.value.message
    assert fake.requests == []


def test_fake_refuses_search_next_to_functions_as_gemini_does(fake: FakeGemini) -> None:
    """The rule the gateway's refusal above stands for: Gemini's own 400."""
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "tools": [
            {"googleSearch": {}},
            {"functionDeclarations": [{"name": "Bash", "parametersJsonSchema": {}}]},
        ],
    }
    response = httpx.post(
        f"{fake.base_url}/v1beta/models/{MODEL}:generateContent",
        json=body,
        headers={"x-goog-api-key": fake.api_key},
        timeout=10,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "Tool use with function calling is unsupported" in error["message"]
