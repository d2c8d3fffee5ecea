"""Anthropic's web tools on Gemini: web_search -> googleSearch, web_fetch -> urlContext, and the
grounding metadata back as server_tool_use + result blocks and citations."""

from __future__ import annotations

from typing import Any

import pytest
from ai_proxy.anthropic.accumulate import accumulate
from ai_proxy.anthropic.models import MessagesRequest
from ai_proxy.errors import InvalidRequest
from ai_proxy.providers.blocks import Event
from ai_proxy.providers.gemini.grounding import GroundedText, LiveText, TextSink, text_sink_for
from ai_proxy.providers.gemini.request import to_gemini_request
from ai_proxy.providers.gemini.response import GeminiStreamTranslator
from ai_proxy.sse import encode_events
from google.ai.generativelanguage_v1beta.types import generative_service
from google.protobuf import json_format

from tests.fakes.gemini_render import RenderContext, merged_response, stream_chunks
from tests.fakes.gemini_replies import Answer, grounded_answer, text_answer
from tests.sse_grammar import check_stream

WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search"}
WEB_FETCH = {"type": "web_fetch_20250910", "name": "web_fetch"}
BASH = {"name": "Bash", "input_schema": {"type": "object"}}
HELLO = [{"role": "user", "content": "What is the capital of France?"}]
ANSWER = "Paris is the capital of France. It has 2.1 million people."
SOURCES = [
    ("https://grounding.example/r/1", "wikipedia.org"),
    ("https://grounding.example/r/2", "insee.fr"),
]
CONTEXT = RenderContext(model="gemini-2.5-flash", response_id="r1", prompt_tokens=9)


def request(**fields: Any) -> MessagesRequest:
    return MessagesRequest.model_validate(
        {"model": "gemini-2.5-flash", "max_tokens": 100, "messages": HELLO, **fields}
    )


def translate(**fields: Any) -> dict[str, Any]:
    body = to_gemini_request(request(**fields), "gemini-2.5-flash")
    json_format.ParseDict(body, generative_service.GenerateContentRequest.pb()())
    return body


def events_of(payloads: list[dict[str, Any]], sink: TextSink = GroundedText) -> list[Event]:
    translator = GeminiStreamTranslator("msg_1", "m", "gemini-2.5-flash", answer_text=sink)
    events = [e for p in payloads for e in translator.feed_payload(p)] + translator.finish()
    check_stream(encode_events(events))
    return events


def streamed(answer: Answer) -> dict[str, Any]:
    return accumulate(events_of(stream_chunks(answer, CONTEXT)))


def unstreamed(answer: Answer) -> dict[str, Any]:
    return accumulate(events_of([merged_response(answer, CONTEXT)]))


def without_ids(message: dict[str, Any]) -> dict[str, Any]:
    """Server tool ids are minted per answer; everything else must match."""
    content = []
    for block in message["content"]:
        block = {k: v for k, v in block.items() if k not in ("id", "tool_use_id")}
        content.append(block)
    return {**message, "content": content}


def paris(**options: Any) -> Answer:
    return grounded_answer(
        ANSWER,
        queries=["capital of France", "population of Paris"],
        sources=SOURCES,
        supports=[
            ("Paris is the capital of France.", [0]),
            ("It has 2.1 million people.", [0, 1]),
        ],
        **options,
    )


# --- request ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "entry"),
    [
        (WEB_SEARCH, {"googleSearch": {}}),
        ({"type": "web_search_20260318", "name": "web_search"}, {"googleSearch": {}}),
        (WEB_FETCH, {"urlContext": {}}),
        ({"type": "web_fetch_20260318", "name": "web_fetch"}, {"urlContext": {}}),
    ],
)
def test_web_tools_become_gemini_builtin_tools(tool: dict[str, Any], entry: dict[str, Any]) -> None:
    assert translate(tools=[tool])["tools"] == [entry]


def test_search_and_fetch_together_declare_both() -> None:
    assert translate(tools=[WEB_SEARCH, WEB_FETCH])["tools"] == [
        {"googleSearch": {}},
        {"urlContext": {}},
    ]


def test_advisory_options_are_dropped() -> None:
    tool = {
        **WEB_SEARCH,
        "max_uses": 5,
        "user_location": {"type": "approximate", "city": "Paris", "country": "FR"},
        "cache_control": {"type": "ephemeral"},
        "allowed_domains": [],  # an empty list restricts nothing
    }
    assert translate(tools=[tool])["tools"] == [{"googleSearch": {}}]


@pytest.mark.parametrize(
    ("tool", "option"),
    [
        ({**WEB_SEARCH, "allowed_domains": ["example.com"]}, "allowed_domains"),
        ({**WEB_SEARCH, "blocked_domains": ["example.com"]}, "blocked_domains"),
        ({**WEB_FETCH, "allowed_domains": ["example.com"]}, "allowed_domains"),
        ({**WEB_FETCH, "url_sources": {"user_input": {"type": "none"}}}, "url_sources"),
        ({**WEB_SEARCH, "some_future_option": True}, "some_future_option"),
    ],
)
def test_options_gemini_cannot_honour_are_refused_by_name(
    tool: dict[str, Any], option: str
) -> None:
    with pytest.raises(InvalidRequest, match=f"'{tool['name']}' option '{option}'.*gemini"):
        translate(tools=[tool])


def test_web_tools_next_to_functions_are_refused_as_gemini_does() -> None:
    with pytest.raises(InvalidRequest, match=r"web_search.*cannot be combined with custom tools"):
        translate(tools=[BASH, WEB_SEARCH])


def test_tool_choice_none_declares_no_web_tool() -> None:
    body = translate(tools=[BASH, WEB_SEARCH], tool_choice={"type": "none"})
    assert body["tools"] == [
        {"functionDeclarations": [{"name": "Bash", "parametersJsonSchema": {"type": "object"}}]}
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}


def test_forcing_a_web_tool_sends_no_function_calling_config() -> None:
    """Gemini grounds when it judges it useful; a function-calling mode without functions
    would only be refused."""
    body = translate(tools=[WEB_SEARCH], tool_choice={"type": "tool", "name": "web_search"})
    assert body["tools"] == [{"googleSearch": {}}] and "toolConfig" not in body


def test_text_is_held_only_when_a_web_tool_is_declared() -> None:
    assert text_sink_for(request(tools=[WEB_SEARCH])) is GroundedText
    assert text_sink_for(request(tools=[BASH])) is LiveText
    assert text_sink_for(None) is LiveText


# --- answer ----------------------------------------------------------------------------------


def test_search_answer_becomes_server_tool_use_results_and_cited_text() -> None:
    message = unstreamed(paris())
    search, results, first, second = message["content"]
    assert search["type"] == "server_tool_use" and search["id"].startswith("srvtoolu_")
    assert search["name"] == "web_search"
    assert search["input"] == {"query": "capital of France"}
    assert results == {
        "type": "web_search_tool_result",
        "tool_use_id": search["id"],
        "content": [
            {
                "type": "web_search_result",
                "url": url,
                "title": title,
                "encrypted_content": "",
                "page_age": None,
            }
            for url, title in SOURCES
        ],
    }
    # The whitespace between two cited spans stays with the first: no whitespace-only block.
    assert first["text"] == "Paris is the capital of France. "
    assert [c["url"] for c in first["citations"]] == [SOURCES[0][0]]
    assert first["citations"][0] == {
        "type": "web_search_result_location",
        "url": SOURCES[0][0],
        "title": "wikipedia.org",
        "encrypted_index": "",
        "cited_text": "Paris is the capital of France.",
    }
    assert second["text"] == "It has 2.1 million people."
    assert [c["url"] for c in second["citations"]] == [SOURCES[0][0], SOURCES[1][0]]
    # Every query Gemini ran is counted, as Anthropic counts each search.
    assert message["usage"]["server_tool_use"] == {
        "web_search_requests": 2,
        "web_fetch_requests": 0,
    }


def test_streamed_and_unstreamed_answers_agree() -> None:
    """Streamed, the text comes in pieces that cut across the cited spans."""
    assert without_ids(streamed(paris(chunks=4))) == without_ids(unstreamed(paris(chunks=4)))


def test_grounded_text_waits_for_the_end_of_the_answer() -> None:
    translator = GeminiStreamTranslator("msg_1", "m", "gemini-2.5-flash", answer_text=GroundedText)
    first, *rest = stream_chunks(paris(chunks=3), CONTEXT)
    assert [e["type"] for e in translator.feed_payload(first)] == ["message_start"]
    for payload in rest:
        assert translator.feed_payload(payload) == []
    types = [
        e["content_block"]["type"]
        for e in translator.finish()
        if e["type"] == "content_block_start"
    ]
    assert types == ["server_tool_use", "web_search_tool_result", "text", "text"]


def test_metadata_resent_as_it_grows_is_read_once() -> None:
    """Gemini may send groundingMetadata on several chunks, each copy whole: the last wins."""
    chunks = stream_chunks(paris(chunks=2), CONTEXT)
    final = chunks[-1]["candidates"][0]["groundingMetadata"]
    partial = {"webSearchQueries": final["webSearchQueries"][:1]}
    chunks[0]["candidates"][0]["groundingMetadata"] = partial
    message = accumulate(events_of(chunks))
    assert [b["type"] for b in message["content"]].count("web_search_tool_result") == 1
    assert message["usage"]["server_tool_use"]["web_search_requests"] == 2


def test_answer_without_a_search_is_plain_text() -> None:
    message = unstreamed(text_answer("I know this one: Paris."))
    assert message["content"] == [{"type": "text", "text": "I know this one: Paris."}]
    assert message["usage"]["server_tool_use"] == {
        "web_search_requests": 0,
        "web_fetch_requests": 0,
    }


def test_a_span_gemini_cites_out_of_order_keeps_its_sources_listed() -> None:
    answer = grounded_answer(
        ANSWER,
        queries=["q"],
        sources=SOURCES,
        supports=[("It has 2.1 million people.", [1]), ("Paris is the capital of France.", [0])],
    )
    message = unstreamed(answer)
    texts = [b for b in message["content"] if b["type"] == "text"]
    assert "".join(b["text"] for b in texts) == ANSWER
    assert [c["url"] for b in texts for c in b.get("citations", [])] == [SOURCES[1][0]]
    assert len(message["content"][1]["content"]) == 2


def test_fetched_urls_become_web_fetch_blocks() -> None:
    answer = grounded_answer(
        "The page says hello.",
        sources=[("https://example.org/page", "Example page")],
        supports=[("The page says hello.", [0])],
        fetched=[
            "https://example.org/page",
            ("https://example.org/down", "URL_RETRIEVAL_STATUS_ERROR"),
        ],
    )
    message = unstreamed(answer)
    fetch, fetched, fetch_down, failed, text = message["content"]
    assert fetch["type"] == "server_tool_use" and fetch["name"] == "web_fetch"
    assert fetch["input"] == {"url": "https://example.org/page"}
    assert fetched == {
        "type": "web_fetch_tool_result",
        "tool_use_id": fetch["id"],
        "content": {
            "type": "web_fetch_result",
            "url": "https://example.org/page",
            "content": {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": ""},
                "title": "Example page",
            },
            "retrieved_at": None,
        },
    }
    assert fetch_down["input"] == {"url": "https://example.org/down"}
    assert failed["content"] == {
        "type": "web_fetch_tool_result_error",
        "error_code": "url_not_accessible",
    }
    assert text["citations"][0]["url"] == "https://example.org/page"
    assert message["usage"]["server_tool_use"] == {
        "web_search_requests": 0,
        "web_fetch_requests": 2,
    }


def test_text_streams_live_without_web_tools() -> None:
    translator = GeminiStreamTranslator("msg_1", "m", "gemini-2.5-flash", answer_text=LiveText)
    first = stream_chunks(text_answer("one two three", chunks=3), CONTEXT)[0]
    deltas = [e for e in translator.feed_payload(first) if e["type"] == "content_block_delta"]
    assert deltas == [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "one "}}
    ]
