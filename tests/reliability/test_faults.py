"""Upstream faults: every one ends in a well-formed answer or a well-formed Anthropic error,
within the configured time, and never as a 500 with a trace or a hang.

    fault                                   client sees
    hang before headers (read timeout)      504 timeout_error naming timeouts.read_seconds
    hang before headers (first byte)        504 timeout_error naming first_byte_seconds
    hang before headers (total)             504 timeout_error naming total_seconds
    200 headers, then silence (stream)      an SSE timeout_error event, no ping (none before
                                            message_start)
    stall mid-stream                        the events so far, then an SSE timeout_error
    stream longer than total_seconds        the events so far, then an SSE timeout_error
    invalid JSON 200                        502 api_error
    HTML error page                         502 api_error "HTML page" (after retries)
    200 with the wrong content type         502 api_error naming the content type
    cut mid-event / reset mid-stream        the events so far, then an SSE api_error
    garbage or ill-shaped stream events     the events so far, then an SSE api_error
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import anthropic
import httpx
import orjson
import pytest

from tests.fakes.gemini import (
    Cut,
    FakeGemini,
    Hang,
    HttpReply,
    Timing,
    bad_gateway_html,
    invalid_json,
    mid_stream_error,
    text_answer,
    wrong_content_type,
)
from tests.fakes.openai import Answer as OpenAIAnswer
from tests.fakes.openai import FakeOpenAI
from tests.sse_grammar import check_stream, parse_frames

from .conftest import body, config_for, running
from .faults import Canary

SHORT = {"connect_seconds": 1.0, "read_seconds": 0.5, "total_seconds": 5.0}


def _error(response: httpx.Response, status: int, error_type: str) -> str:
    assert response.status_code == status, response.text
    payload = response.json()
    assert set(payload) == {"type", "error"} and payload["type"] == "error"
    assert payload["error"]["type"] == error_type
    message: str = payload["error"]["message"]
    assert "Traceback" not in message and "<html" not in message.lower()
    return message


def _post(base_url: str, payload: dict[str, Any], limit: float) -> tuple[httpx.Response, float]:
    begun = time.monotonic()
    response = httpx.post(base_url + "/v1/messages", json=payload, timeout=limit + 5)
    elapsed = time.monotonic() - begun
    assert elapsed < limit, f"took {elapsed:.2f}s, the configured bound is {limit}s"
    return response, elapsed


@pytest.mark.parametrize(
    ("timeouts", "setting", "low", "high"),
    [
        (SHORT, "timeouts.read_seconds", 0.5, 1.5),
        ({**SHORT, "read_seconds": 5.0, "first_byte_seconds": 0.3}, "first_byte_seconds", 0.3, 1.2),
        ({**SHORT, "read_seconds": 5.0, "total_seconds": 0.6}, "timeouts.total_seconds", 0.6, 1.5),
    ],
)
def test_a_hang_before_the_answer_is_a_timeout_error(
    gemini: FakeGemini, timeouts: dict[str, float], setting: str, low: float, high: float
) -> None:
    gemini.enqueue(Hang(), Hang())
    with running(config_for(gemini.base_url, timeouts=timeouts)) as (base_url, _):
        response, elapsed = _post(base_url, body(), high)
    assert setting in _error(response, 504, "timeout_error")
    assert elapsed >= low
    assert len(gemini.requests) == 1  # a timeout is not retried: it already cost the wait


def test_silence_after_the_headers_ends_with_a_timeout_event_and_no_ping(
    gemini: FakeGemini,
) -> None:
    gemini.enqueue(Hang(send_headers=True))
    config = config_for(
        gemini.base_url,
        timeouts={**SHORT, "read_seconds": 0.6},
        server={"ping_interval_seconds": 0.1},
    )
    with running(config) as (base_url, _):
        response, _ = _post(base_url, body(stream=True), 2.0)
    assert response.status_code == 200
    frames = parse_frames(response.content)
    # A stream opens with message_start, which only upstream's first answer makes: no ping
    # goes before it, however long the silence (issue 10, item 8).
    assert [name for name, _ in frames] == ["error"]
    events = check_stream(response.content)
    assert events[-1]["error"]["type"] == "timeout_error"
    assert "read_seconds" in events[-1]["error"]["message"]


def test_a_stall_mid_stream_ends_with_a_timeout_event(gemini: FakeGemini) -> None:
    slow = text_answer("alpha beta gamma delta", chunks=4)
    gemini.enqueue(replace(slow, timing=Timing(between_chunks=3.0)))
    with running(config_for(gemini.base_url, timeouts=SHORT)) as (base_url, _):
        response, elapsed = _post(base_url, body(stream=True), 2.0)
    events = check_stream(response.content)
    assert events[0]["type"] == "message_start"
    assert any(e["type"] == "content_block_delta" for e in events)  # what arrived was relayed
    assert events[-1]["type"] == "error"
    assert events[-1]["error"]["type"] == "timeout_error"
    assert elapsed >= 0.5


def test_a_stream_longer_than_total_ends_with_a_timeout_event(gemini: FakeGemini) -> None:
    long = text_answer(" ".join(f"w{i}" for i in range(20)), chunks=20)
    gemini.enqueue(replace(long, timing=Timing(between_chunks=0.1)))
    config = config_for(
        gemini.base_url,
        timeouts={"read_seconds": 5.0, "total_seconds": 0.8},
        server={"ping_interval_seconds": 0.05},
    )
    with running(config) as (base_url, _):
        response, _ = _post(base_url, body(stream=True), 2.5)
    frames = parse_frames(response.content)
    assert sum(name == "ping" for name, _ in frames) < 40
    events = check_stream(response.content)
    assert events[-1]["error"]["type"] == "timeout_error"
    assert "total_seconds" in events[-1]["error"]["message"]


@pytest.mark.parametrize(
    ("reply", "stream", "expected"),
    [
        (invalid_json(), False, "invalid JSON"),
        (wrong_content_type(), False, "content type 'text/html'"),
        (wrong_content_type(), True, "content type 'text/html'"),
        (HttpReply(200, b'{"candidates": []}'), True, "content type 'application/json'"),
        (HttpReply(200, b"[1, 2, 3]"), False, "unexpected payload"),
        (HttpReply(200, b'{"candidates": "nope"}'), False, "could not translate"),
        (HttpReply(200, b""), False, "invalid JSON"),
    ],
)
def test_an_unusable_200_is_a_502(
    gemini: FakeGemini, reply: HttpReply, stream: bool, expected: str
) -> None:
    gemini.enqueue(reply)
    with running(config_for(gemini.base_url, timeouts=SHORT)) as (base_url, _):
        response, _ = _post(base_url, body(stream=stream), 3.0)
    assert expected in _error(response, 502, "api_error")
    assert len(gemini.requests) == 1


def test_an_html_error_page_is_a_clear_502(gemini: FakeGemini) -> None:
    gemini.enqueue(bad_gateway_html(), bad_gateway_html(), bad_gateway_html())
    with running(config_for(gemini.base_url, timeouts=SHORT)) as (base_url, _):
        response, _ = _post(base_url, body(), 3.0)
    message = _error(response, 502, "api_error")
    assert "HTML page" in message and "That" not in message
    assert len(gemini.requests) == 3  # a 502 is transient: retried first


@pytest.mark.parametrize(
    ("cut", "words"),
    [
        (Cut(2, mid_event=True), "middle of an event"),
        (Cut(2, reset=True), "closed the connection"),
        (Cut(0, reset=True), "closed the connection"),
        (Cut(4), "ended"),  # every event but no finishReason, then the body never ends
    ],
)
def test_a_cut_stream_ends_with_an_error_event(gemini: FakeGemini, cut: Cut, words: str) -> None:
    gemini.enqueue(replace(text_answer("one two three four", chunks=4), cut=cut))
    with running(config_for(gemini.base_url, timeouts=SHORT)) as (base_url, _):
        response, _ = _post(base_url, body(stream=True), 3.0)
    assert response.status_code == 200
    events = check_stream(response.content)
    assert events[-1]["type"] == "error"
    assert events[-1]["error"]["type"] == "api_error"
    assert words in events[-1]["error"]["message"] or "connection" in events[-1]["error"]["message"]


@pytest.mark.parametrize(
    "sse",
    [
        b"data: {not json\n\n",
        b"data: [1, 2, 3]\n\n",
        b'data: {"candidates": "nope"}\n\n',
        b'data: {"candidates": [{"content": {"parts": 7}}]}\n\n',
        b"\xff\xfe garbage without any framing",
    ],
)
def test_garbage_stream_events_end_with_an_error_event(gemini: FakeGemini, sse: bytes) -> None:
    gemini.enqueue(HttpReply(200, sse, content_type="text/event-stream"))
    with running(config_for(gemini.base_url, timeouts=SHORT)) as (base_url, _):
        response, _ = _post(base_url, body(stream=True), 3.0)
    if response.status_code != 200:  # also fine: refused before the stream began
        _error(response, 502, "api_error")
        return
    events = check_stream(response.content)
    assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "api_error"


def test_an_error_event_from_upstream_mid_stream(gemini: FakeGemini) -> None:
    answer = text_answer("one two three four", chunks=4)
    gemini.enqueue(replace(answer, stream_error=mid_stream_error(2, code=503)))
    with running(config_for(gemini.base_url, timeouts=SHORT)) as (base_url, _):
        response, _ = _post(base_url, body(stream=True), 3.0)
    events = check_stream(response.content)
    assert events[-1]["type"] == "error"
    assert events[-1]["error"]["type"] == "overloaded_error"


def test_the_sdk_sees_each_fault_as_its_own_exception(gemini: FakeGemini) -> None:
    gemini.enqueue(Hang())
    with running(config_for(gemini.base_url, timeouts=SHORT)) as (base_url, _):
        sdk = anthropic.Anthropic(base_url=base_url, api_key="unused", max_retries=0)
        with pytest.raises(anthropic.APIStatusError) as caught:
            sdk.messages.create(**body())
    assert caught.value.status_code == 504


# --- no server-side request forgery -----------------------------------------------------


def _media_request(url: str) -> dict[str, Any]:
    return body(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "url", "url": f"{url}/cat.png"}},
                    {"type": "document", "source": {"type": "url", "url": f"{url}/doc.pdf"}},
                    {"type": "text", "text": "What are these?"},
                ],
            }
        ]
    )


def test_client_urls_go_to_the_provider_and_are_never_fetched(gemini: FakeGemini) -> None:
    canary = Canary()
    with canary.server, running(config_for(gemini.base_url)) as (base_url, _):
        url = canary.server.base_url
        response = httpx.post(base_url + "/v1/messages", json=_media_request(url), timeout=10)
        assert response.status_code == 200, response.text
    assert canary.visits == []
    sent = orjson.loads(gemini.requests[0].body)
    uris = [p["fileData"]["fileUri"] for p in sent["contents"][0]["parts"] if "fileData" in p]
    assert uris == [f"{url}/cat.png", f"{url}/doc.pdf"]


def test_client_image_urls_are_not_fetched_for_openai_either() -> None:
    canary = Canary()
    fake = FakeOpenAI()
    fake.enqueue(OpenAIAnswer(content=["A cat."]))
    with canary.server, fake.serve() as openai_url:
        canary_url = canary.server.base_url
        config = config_for(
            "http://127.0.0.1:9",
            providers={"openai": {"base_url": openai_url, "api_key": fake.api_key}},
        )
        with running(config) as (base_url, _):
            payload = body(model="gpt-4o")
            payload["messages"] = [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "url", "url": canary_url + "/c.png"},
                        },
                        {"type": "text", "text": "What is this?"},
                    ],
                }
            ]
            response = httpx.post(base_url + "/v1/messages", json=payload, timeout=10)
    assert response.status_code == 200, response.text
    assert canary.visits == []
    assert canary_url + "/c.png" in repr(fake.requests[0].body)


def test_a_body_that_stops_coming_is_a_504_not_a_crash(gemini: FakeGemini) -> None:
    """Regression: errors while reading a non-streamed body escaped as 'internal gateway error'."""
    gemini.enqueue(Hang(send_headers=True))
    with running(config_for(gemini.base_url, timeouts=SHORT)) as (base_url, _):
        response, _ = _post(base_url, body(), 2.0)
    assert "read_seconds" in _error(response, 504, "timeout_error")


def test_a_body_cut_halfway_is_a_502_after_retries(gemini: FakeGemini) -> None:
    cut = replace(text_answer("one two three"), cut=Cut(0, reset=True))
    gemini.enqueue(cut, cut, cut)
    with running(config_for(gemini.base_url, timeouts=SHORT)) as (base_url, _):
        response, _ = _post(base_url, body(), 3.0)
    assert "closed the connection" in _error(response, 502, "api_error")
    assert len(gemini.requests) == 3
