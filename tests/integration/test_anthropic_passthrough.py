"""The official anthropic SDK (and raw HTTP) -> our gateway -> the fake Anthropic, all over
real HTTP on 127.0.0.1. The pass-through must hand back upstream's bytes unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import anthropic
import httpx
import orjson
import pytest
from ai_proxy.auth import hash_key
from ai_proxy.gateway import CoreRequest, Gateway
from ai_proxy.providers.gemini.signatures import to_our_signature
from ai_proxy.sse import PING

from tests.fakes.anthropic import (
    Cut,
    FakeAnthropic,
    Pause,
    api_error,
    authentication_error,
    invalid_request,
    overloaded,
    rate_limited,
    sign,
    text_reply,
    thinking_reply,
    tool_use_reply,
)
from tests.fakes.gemini import FakeGemini
from tests.fakes.gemini_replies import Timing, text_answer
from tests.gateway_server import make_config, serve_gateway
from tests.sse_grammar import check_stream, parse_frames

CLAUDE_CODE = Path(__file__).parent.parent / "fixtures" / "claude_code"
CLIENT_KEY = "aip_test-client-key-that-must-stay-here"
MODEL = "claude-opus-4-8"
USER: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Say hello"}]


def gateway_config(anthropic_url: str, gemini_url: str, anthropic_key: str) -> Any:
    return make_config(
        {"anthropic": anthropic_url, "gemini": gemini_url},
        keys={"anthropic": anthropic_key, "gemini": "test-gemini-key"},
        auth={"client_keys": [{"name": "tests", "sha256": hash_key(CLIENT_KEY)}]},
        server={"ping_interval_seconds": 0.2},
        retries={"max_retries": 0},
        routing={
            "aliases": {
                "house-model": f"anthropic/{MODEL}",
                "resilient": ["anthropic/claude-haiku-4-5", "gemini/gemini-2.5-flash"],
            }
        },
    )


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(client_keys={CLIENT_KEY}) as server:
        yield server


@pytest.fixture(scope="module")
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@pytest.fixture(scope="module")
def gateway_url(fake: FakeAnthropic, gemini: FakeGemini) -> Iterator[str]:
    with serve_gateway(gateway_config(fake.base_url, gemini.base_url, fake.api_key)) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh(fake: FakeAnthropic, gemini: FakeGemini) -> Iterator[None]:
    fake.reset()
    gemini.reset()
    yield
    assert fake.leaks == [], "a client key reached the upstream"


@pytest.fixture
def client(gateway_url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway_url, api_key=CLIENT_KEY, max_retries=0) as sdk:
        yield sdk


def raw_stream(gateway_url: str, body: dict[str, Any], **headers: str) -> tuple[int, bytes]:
    """POST with stream: true and return the status and every byte the client received."""
    with (
        httpx.Client(timeout=10) as http,
        http.stream(
            "POST",
            f"{gateway_url}/v1/messages",
            json={"model": MODEL, "max_tokens": 256, "stream": True, **body},
            headers={"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01", **headers},
        ) as response,
    ):
        return response.status_code, b"".join(response.iter_raw())


def without_our_pings(received: bytes) -> bytes:
    """The stream less the gateway's own pings. They depend on timing (a loaded machine can
    hold any upstream silent for the 0.2 s ping interval, between any two events), so byte
    comparisons leave them out; where pings may go is tested on its own. Upstream's own ping
    is written differently (`{"type": "ping"}`, with a space) and stays."""
    return received.replace(PING, b"")


# --- the stream is upstream's, byte for byte --------------------------------------------------


def relayed(sent: bytes) -> bytes:
    """What the client must get for upstream's bytes: the same, except that `message_start`
    names the model the client asked for (upstream names its dated snapshot)."""
    first, separator, rest = sent.partition(b"\n\n")
    event = json.loads(first.partition(b"\ndata: ")[2])
    event["message"]["model"] = MODEL
    return b"event: message_start\ndata: " + orjson.dumps(event) + separator + rest


def test_anthropic_stream_relayed_byte_for_byte(fake: FakeAnthropic, gateway_url: str) -> None:
    # Written in 7-byte pieces, so events arrive split across many network reads.
    fake.enqueue(thinking_reply("Let me think about it.", "Hello!", chunk_bytes=7))
    status, received = raw_stream(gateway_url, {"messages": USER})
    assert status == 200
    sent = bytes(fake.requests[-1].sent)
    assert without_our_pings(received) == relayed(sent)
    check_stream(received)


def test_anthropic_pings_never_land_inside_an_upstream_event(
    fake: FakeAnthropic, gateway_url: str
) -> None:
    # Regression: upstream goes silent halfway through an event for longer than the ping
    # interval. A ping relayed right then would corrupt the event the client is reading.
    fake.enqueue(text_reply("a long answer", pause=Pause(event=3, seconds=0.7)))
    _, received = raw_stream(gateway_url, {"messages": USER})
    assert PING in received
    check_stream(received)  # every frame well formed
    assert received.replace(PING, b"") == relayed(bytes(fake.requests[-1].sent))


def test_anthropic_sdk_stream_and_message(fake: FakeAnthropic, client: anthropic.Anthropic) -> None:
    fake.enqueue(tool_use_reply("get_weather", {"city": "Paris"}))
    with client.messages.stream(model=MODEL, max_tokens=256, messages=USER) as stream:
        streamed = stream.get_final_message()
    assert streamed.stop_reason == "tool_use"
    assert streamed.content[0].type == "tool_use" and streamed.content[0].input == {"city": "Paris"}
    # Like the JSON answer, the stream names the model the client asked for.
    assert streamed.model == MODEL

    fake.enqueue(thinking_reply("hmm", "Hi there"))
    message = client.messages.create(model=MODEL, max_tokens=2048, messages=USER)
    upstream = json.loads(fake.requests[-1].sent)
    assert message.model == MODEL  # a JSON answer names the model the client asked for
    assert message.to_dict() == {**upstream, "model": MODEL}


# --- what reaches upstream -------------------------------------------------------------------


def test_anthropic_headers_forwarded_and_key_replaced(
    fake: FakeAnthropic, gateway_url: str
) -> None:
    beta = "interleaved-thinking-2025-05-14,context-1m-2025-08-07"
    with anthropic.Anthropic(
        base_url=gateway_url,
        api_key=CLIENT_KEY,
        max_retries=0,
        default_headers={"anthropic-beta": beta, "x-custom": "not-forwarded"},
    ) as sdk:
        sdk.messages.create(model=MODEL, max_tokens=64, messages=USER)
    headers = fake.requests[-1].headers
    assert headers["x-api-key"] == fake.api_key
    assert headers["anthropic-beta"] == beta
    assert headers["anthropic-version"] == sdk.default_headers["anthropic-version"]
    assert "authorization" not in headers and "x-custom" not in headers


def test_anthropic_bearer_client_and_default_version(fake: FakeAnthropic, gateway_url: str) -> None:
    with anthropic.Anthropic(base_url=gateway_url, auth_token=CLIENT_KEY, max_retries=0) as sdk:
        sdk.messages.create(model=MODEL, max_tokens=64, messages=USER)
    assert "authorization" not in fake.requests[-1].headers
    assert fake.requests[-1].headers["x-api-key"] == fake.api_key
    answer = httpx.post(
        f"{gateway_url}/v1/messages",
        json={"model": MODEL, "max_tokens": 64, "messages": USER},
        headers={"x-api-key": CLIENT_KEY},
    )
    assert answer.status_code == 200
    assert fake.requests[-1].headers["anthropic-version"] == "2023-06-01"


def test_anthropic_beta_fields_header_and_query_forwarded(
    fake: FakeAnthropic, client: anthropic.Anthropic, gateway_url: str
) -> None:
    client.beta.messages.create(
        model=MODEL,
        max_tokens=64,
        messages=cast(list[anthropic.types.beta.BetaMessageParam], USER),
        betas=["context-management-2025-06-27"],
        context_management={"edits": []},
    )
    assert fake.requests[-1].headers["anthropic-beta"] == "context-management-2025-06-27"
    assert fake.requests[-1].json["context_management"] == {"edits": []}  # unknown to us
    # Claude Code marks beta calls with ?beta=true (the SDK now sends only the header).
    status, _ = raw_stream(gateway_url, {"messages": USER}, **{"x-ignored": "1"})
    assert status == 200 and fake.requests[-1].query == {}
    answer = httpx.post(
        f"{gateway_url}/v1/messages?beta=true",
        json={"model": MODEL, "max_tokens": 64, "messages": USER},
        headers={"x-api-key": CLIENT_KEY},
    )
    assert answer.status_code == 200
    assert fake.requests[-1].query == {"beta": "true"}


def test_anthropic_client_body_forwarded_as_sent(fake: FakeAnthropic, gateway_url: str) -> None:
    body = (
        b'{"model": "claude-opus-4-8",   "max_tokens": 64,\n "messages": '
        b'[{"role": "user", "content": "hi"}], "metadata": {"user_id": "u-1"}}'
    )
    answer = httpx.post(
        f"{gateway_url}/v1/messages",
        content=body,
        headers={"x-api-key": CLIENT_KEY, "content-type": "application/json"},
    )
    assert answer.status_code == 200
    assert fake.requests[-1].body == body


def test_anthropic_alias_renames_the_model(fake: FakeAnthropic, gateway_url: str) -> None:
    answer = httpx.post(
        f"{gateway_url}/v1/messages",
        json={"model": "house-model", "max_tokens": 64, "messages": USER},
        headers={"x-api-key": CLIENT_KEY},
    )
    assert answer.status_code == 200
    assert fake.requests[-1].json["model"] == MODEL
    assert answer.json()["model"] == "house-model"
    assert answer.headers["x-ai-proxy-served-by"] == f"anthropic/{MODEL}"


def test_anthropic_foreign_thinking_signatures_stripped(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    gemini_turn = {
        "role": "assistant",
        "content": [
            {
                "type": "thinking",
                "thinking": "gemini's thought",
                "signature": to_our_signature("c2ln", "gemini-2.5-flash"),
            },
            {"type": "text", "text": "from Gemini"},
        ],
    }
    claude_turn = {
        "role": "assistant",
        "content": [
            {
                "type": "thinking",
                "thinking": "claude's thought",
                "signature": sign("claude's thought"),
            },
            {"type": "text", "text": "from Claude"},
        ],
    }
    messages: list[Any] = [
        {"role": "user", "content": "q1"},
        gemini_turn,
        {"role": "user", "content": "q2"},
        claude_turn,
        {"role": "user", "content": "q3"},
    ]
    client.messages.create(model=MODEL, max_tokens=64, messages=messages)  # the fake verifies
    sent = fake.requests[-1].json["messages"]
    assert sent[1]["content"] == [{"type": "text", "text": "from Gemini"}]
    assert sent[3] == claude_turn


def test_anthropic_tool_loop_continues_after_a_gemini_turn(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    messages: list[Any] = [
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "thinking",
                    "thinking": "",
                    "signature": to_our_signature("c2ln", "gemini-2.5-flash"),
                },
                {
                    "type": "tool_use",
                    "id": "toolu_9",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "sunny"}],
        },
    ]
    message = client.messages.create(
        model=MODEL,
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
        messages=messages,
    )
    assert message.content[0].type == "text"
    assert "thinking" not in fake.requests[-1].json


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "exception", "status"),
    [
        (invalid_request("messages.0.content: bad"), anthropic.BadRequestError, 400),
        (authentication_error(), anthropic.AuthenticationError, 401),
        (rate_limited(retry_after="7"), anthropic.RateLimitError, 429),
        (api_error(), anthropic.InternalServerError, 500),
        (overloaded(), anthropic.OverloadedError, 529),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_error_passes_through(
    fake: FakeAnthropic,
    client: anthropic.Anthropic,
    reply: Any,
    exception: type[anthropic.APIStatusError],
    status: int,
    stream: bool,
) -> None:
    fake.enqueue(reply)
    with pytest.raises(exception) as caught:
        if stream:
            with client.messages.stream(model=MODEL, max_tokens=64, messages=USER) as events:
                events.get_final_message()
        else:
            client.messages.create(model=MODEL, max_tokens=64, messages=USER)
    assert caught.value.status_code == status
    assert caught.value.body == json.loads(fake.requests[-1].sent)  # request_id and all
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "7"


def test_anthropic_error_event_mid_stream_relayed(fake: FakeAnthropic, gateway_url: str) -> None:
    fake.enqueue(text_reply("never finished", error_after_events=4))
    _, received = raw_stream(gateway_url, {"messages": USER})
    assert without_our_pings(received) == relayed(bytes(fake.requests[-1].sent))
    assert check_stream(received)[-1]["error"]["type"] == "overloaded_error"


@pytest.mark.parametrize("mid_event", [False, True])
def test_anthropic_cut_stream_ends_with_our_error_event(
    fake: FakeAnthropic, gateway_url: str, mid_event: bool
) -> None:
    # Regression (a flake under load): the last events and the cut arrived while the relay was
    # busy, and aiohttp raised the cut before handing over those events (tests/unit/test_relay).
    fake.enqueue(text_reply("cut short", cut=Cut(after_events=4, mid_event=mid_event)))
    _, received = raw_stream(gateway_url, {"messages": USER})
    received = without_our_pings(received)
    sent = relayed(bytes(fake.requests[-1].sent))
    complete = b"\n\n".join(sent.split(b"\n\n")[:4]) + b"\n\n"
    frames = parse_frames(received)
    # Upstream's complete events unchanged, never its half event, then one error of ours.
    assert received.startswith(complete)
    assert len(frames) == 5
    assert [name for name, _ in frames][:4] == [
        "message_start", "content_block_start", "ping", "content_block_delta",
    ]  # fmt: skip
    assert frames[-1][0] == "error" and frames[-1][1]["error"]["type"] == "api_error"
    check_stream(received)


def test_anthropic_overload_falls_back_to_the_next_target(
    fake: FakeAnthropic, gemini: FakeGemini, client: anthropic.Anthropic
) -> None:
    fake.enqueue(overloaded())
    response = client.messages.with_raw_response.create(
        model="resilient", max_tokens=64, messages=USER
    )
    assert response.headers["x-ai-proxy-served-by"] == "gemini/gemini-2.5-flash"
    assert response.parse().model == "resilient"
    assert len(fake.requests) == 1 and len(gemini.requests) == 1


# --- what the gateway observed ------------------------------------------------------------------


async def test_anthropic_usage_and_errors_observed(fake: FakeAnthropic, gemini: FakeGemini) -> None:
    gateway = Gateway(gateway_config(fake.base_url, gemini.base_url, fake.api_key))
    headers = {"x-api-key": CLIENT_KEY, "content-type": "application/json"}

    async def send(stream: bool) -> Any:
        body = {"model": MODEL, "max_tokens": 64, "messages": USER, "stream": stream}
        response = await gateway.handle(
            CoreRequest("POST", "/v1/messages", headers, json.dumps(body).encode())
        )
        if not isinstance(response.body, bytes):
            async for _ in response.body:
                pass
        return response.record

    try:
        fake.enqueue(text_reply(input_tokens=40, output_tokens=12, cache_read_input_tokens=5))
        record = await send(stream=True)
        assert record.usage["input_tokens"] == 40 and record.usage["output_tokens"] == 12
        assert record.usage["cache_read_input_tokens"] == 5
        assert record.first_token is not None and record.error_type is None

        fake.enqueue(text_reply(input_tokens=7, output_tokens=3))
        record = await send(stream=False)
        assert (record.usage["input_tokens"], record.usage["output_tokens"]) == (7, 3)

        fake.enqueue(text_reply(error_after_events=2))
        record = await send(stream=True)
        assert record.error_type == "overloaded_error"
    finally:
        await gateway.close()


# --- open world: what the real API takes reaches it as sent -------------------------------------


def post_raw(
    gateway_url: str, body: bytes, path: str = "/v1/messages", **headers: str
) -> httpx.Response:
    base = {"x-api-key": CLIENT_KEY, "content-type": "application/json"}
    return httpx.post(f"{gateway_url}{path}", content=body, headers={**base, **headers}, timeout=10)


def test_claude_code_opus_4_7_first_request_reaches_anthropic_as_sent(
    fake: FakeAnthropic, gateway_url: str
) -> None:
    # Regression (issue 10): the gateway refused `output_config.effort: "xhigh"` on every
    # route. The body also holds `display: "updates"` (in the SDK's beta types only, taken
    # with Claude Code's thinking-display-updates beta), context_management and a
    # defer_loading tool; none of it is the gateway's business.
    body = (CLAUDE_CODE / "opus_4_7_request.json").read_bytes()
    captured = json.loads((CLAUDE_CODE / "opus_4_7_request_headers.json").read_text())
    headers = {
        name: value
        for name, value in captured["headers"].items()
        if name.lower() in ("anthropic-beta", "anthropic-version", "user-agent", "x-app")
    }
    answer = post_raw(gateway_url, body, f"/v1/messages?{captured['query']}", **headers)
    assert answer.status_code == 200
    check_stream(answer.content)
    received = fake.requests[-1]
    assert received.body == body  # byte for byte: nothing needed fixing
    assert received.query == {"beta": "true"}
    assert received.headers["anthropic-beta"] == headers["anthropic-beta"]
    assert "thinking-display-updates-2026-08-18" in received.headers["anthropic-beta"]


def test_tool_search_mcp_and_search_results_reach_anthropic_as_sent(
    fake: FakeAnthropic, gateway_url: str
) -> None:
    # Regression (issue 10): a search_result in a tool_result, a tool_reference and an
    # mcp_toolset tool were refused before routing, the pass-through included.
    payload = {
        "model": MODEL,
        "max_tokens": 256,
        "mcp_servers": [{"type": "url", "name": "docs", "url": "https://mcp.example/sse"}],
        "tools": [
            {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"},
            {"name": "ToolSearch", "input_schema": {"type": "object"}},
            {"name": "Grep", "input_schema": {"type": "object"}, "defer_loading": True},
            {"type": "mcp_toolset", "mcp_server_name": "docs", "default_config": {"enabled": True}},
        ],
        "messages": [
            {"role": "user", "content": "find the grep tool and the docs"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "ToolSearch", "input": {}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [
                            {"type": "tool_reference", "tool_name": "Grep"},
                            {
                                "type": "search_result",
                                "source": "https://docs.example/grep",
                                "title": "Grep",
                                "content": [{"type": "text", "text": "Grep searches files."}],
                                "citations": {"enabled": True},
                            },
                        ],
                    }
                ],
            },
        ],
    }
    body = json.dumps(payload).encode()
    beta = "advanced-tool-use-2025-11-20,mcp-client-2025-11-20"
    answer = post_raw(gateway_url, body, "/v1/messages?beta=true", **{"anthropic-beta": beta})
    assert answer.status_code == 200, answer.text
    assert fake.requests[-1].body == body
    assert fake.requests[-1].headers["anthropic-beta"] == beta


@pytest.mark.parametrize("stream", [False, True])
def test_unknown_field_forwarded_and_anthropics_400_returned_unmodified(
    fake: FakeAnthropic, gateway_url: str, stream: bool
) -> None:
    # A field newer than this gateway is Anthropic's to judge: forwarded verbatim, and the
    # answer (here the strict fake's 400, as the real API answers a field it does not know)
    # comes back with its status and its body byte for byte, request_id and all.
    payload = {
        "model": MODEL,
        "max_tokens": 64,
        "stream": stream,
        "messages": USER,
        "future_field": {"mode": "new", "level": 3},
    }
    body = json.dumps(payload).encode()
    answer = post_raw(gateway_url, body)
    assert fake.requests[-1].body == body
    assert answer.status_code == 400
    assert answer.content == bytes(fake.requests[-1].sent)
    assert answer.json()["error"] == {
        "type": "invalid_request_error",
        "message": "future_field: Extra inputs are not permitted",
    }


@pytest.mark.parametrize("version", ["2023-06-01", "2026-10-21"])
def test_both_api_versions_accepted_and_forwarded(
    fake: FakeAnthropic, gateway_url: str, version: str
) -> None:
    body = json.dumps({"model": MODEL, "max_tokens": 64, "messages": USER}).encode()
    answer = post_raw(gateway_url, body, **{"anthropic-version": version})
    assert answer.status_code == 200
    assert fake.requests[-1].headers["anthropic-version"] == version
    status, _ = raw_stream(gateway_url, {"messages": USER}, **{"anthropic-version": version})
    assert status == 200 and fake.requests[-1].headers["anthropic-version"] == version


# --- crossing providers: a history another provider wrote -------------------------------------


def test_anthropic_continues_a_tool_loop_openai_began_with_thinking_on(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    # Regression (issue 10, item 7): /model from OpenAI to Claude mid tool loop with thinking
    # on. OpenAI's turn has no thinking block (Anthropic's 400: "a final `assistant` message
    # must start with a thinking block") and a blank text block before its tool call
    # (Anthropic's 400: "text content blocks must contain non-whitespace text").
    messages: list[Any] = [
        {"role": "user", "content": [{"type": "text", "text": "weather in Paris?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "\n"},
                {
                    "type": "tool_use",
                    "id": "toolu_01OpenAICall",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01OpenAICall", "content": "sunny"},
                {"type": "text", "text": ""},
            ],
        },
    ]
    message = client.beta.messages.create(
        model=MODEL,
        max_tokens=4096,
        thinking={"type": "adaptive"},
        context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        betas=["context-management-2025-06-27"],
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
        messages=messages,
    )
    assert message.content[0].type == "text"
    sent = fake.requests[-1].json
    assert "thinking" not in sent
    assert sent["context_management"] == {"edits": []}
    assert [block["type"] for block in sent["messages"][1]["content"]] == ["tool_use"]
    assert [block["type"] for block in sent["messages"][2]["content"]] == ["tool_result"]


# --- event order: message_start first, pings only after it ------------------------------------


def test_no_ping_before_message_start_while_anthropic_is_slow_to_start(
    fake: FakeAnthropic, gateway_url: str
) -> None:
    # Regression (issue 10, item 8): upstream sent its headers and half of message_start,
    # then stayed silent for several ping intervals; the gateway pinged before message_start.
    fake.enqueue(text_reply("slow to start", pause=Pause(event=0, seconds=0.7)))
    _, received = raw_stream(gateway_url, {"messages": USER})
    assert received.startswith(b"event: message_start\n")
    assert without_our_pings(received) == relayed(bytes(fake.requests[-1].sent))
    check_stream(received)


def test_no_ping_before_message_start_while_a_translated_upstream_is_slow_to_start(
    gemini: FakeGemini, gateway_url: str
) -> None:
    gemini.enqueue(text_answer("slow to start", timing=Timing(before_first_chunk=0.7)))
    status, received = raw_stream(gateway_url, {"model": "gemini-2.5-flash", "messages": USER})
    assert status == 200
    assert parse_frames(received)[0][0] == "message_start"
    assert check_stream(received)[-1]["type"] == "message_stop"
