"""Over real HTTP: the anthropic SDK -> our gateway (uvicorn) -> the fake OpenAI (aiohttp).

Each scripted answer is asked for twice, once with `messages.create` and once streamed with
`messages.stream(...).get_final_message()`, and the two messages must be identical. The fake
rejects any body the openai package's request types would not accept, and every test ends by
asserting that it rejected nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import anthropic
import httpx
import pytest
from ai_proxy.config import Config
from ai_proxy.providers.tool_names import to_upstream_tool_name

from tests.fakes.openai import (
    API_KEY,
    Answer,
    ErrorReply,
    FakeOpenAI,
    ToolCall,
    insufficient_quota,
    rate_limited,
    server_error,
)
from tests.gateway_server import make_config, serve_gateway
from tests.sse_grammar import check_stream

MODEL = "gpt-4o"
HI: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Hello"}]
WEATHER = {
    "name": "get_weather",
    "description": "Current weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def config_for(openai_url: str, **sections: Any) -> Config:
    # Retries off unless a test asks: each upstream answer is then seen by the client.
    sections = {"auth": {"disabled": True}, "retries": {"max_retries": 0}, **sections}
    return make_config({"openai": openai_url}, **sections)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    with fake.serve() as openai_url, serve_gateway(config_for(openai_url)) as url:
        yield fake, url


@pytest.fixture
def fake(servers: tuple[FakeOpenAI, str]) -> Iterator[FakeOpenAI]:
    fake = servers[0]
    fake.reset()
    yield fake
    assert fake.rejections == [], "the gateway sent a body OpenAI would reject"


@pytest.fixture
def client(servers: tuple[FakeOpenAI, str]) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=servers[1], api_key="x", max_retries=0) as client:
        yield client


def both_ways(
    client: anthropic.Anthropic, fake: FakeOpenAI, answer: Answer, **params: Any
) -> anthropic.types.Message:
    """Ask once without and once with streaming; the two messages must be the same."""
    fake.enqueue(answer, answer)
    params = {"model": MODEL, "max_tokens": 1000, "messages": HI, **params}
    whole: anthropic.types.Message = client.messages.create(**params)
    with client.messages.stream(**params) as stream:
        streamed = stream.get_final_message()
    assert [r.body.get("stream") for r in fake.requests[-2:]] == [None, True]
    assert streamed.model_dump(exclude={"id"}) == whole.model_dump(exclude={"id"})
    return whole


def test_text(client: anthropic.Anthropic, fake: FakeOpenAI) -> None:
    answer = Answer(content=["Hel", "lo", " there"], prompt_tokens=1200, cached_tokens=1024)
    message = both_ways(client, fake, answer, system="Be kind.")
    texts = cast(list[anthropic.types.TextBlock], message.content)
    assert [(b.type, b.text) for b in texts] == [("text", "Hello there")]
    assert message.stop_reason == "end_turn" and message.model == MODEL
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (176, 1024)
    assert message.usage.output_tokens == 7
    request = fake.requests[-1]
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.body["messages"][0] == {"role": "system", "content": "Be kind."}
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.body["max_completion_tokens"] == 1000


def test_parallel_tool_calls_split_mid_json_and_the_round_trip(
    client: anthropic.Anthropic, fake: FakeOpenAI
) -> None:
    long_name = "mcp__browser__" + "take_a_full_page_screenshot_of_the_current_tab_" * 2
    short = to_upstream_tool_name(long_name)
    answer = Answer(
        content=["Checking."],
        tool_calls=[
            ToolCall("get_weather", ['{"ci', 'ty": "Par', 'is"}']),
            ToolCall(short, ["{", "}"]),
        ],
        finish_reason="tool_calls",
    )
    tools = [WEATHER, {"name": long_name, "input_schema": {"type": "object"}}]
    message = both_ways(client, fake, answer, tools=tools)
    assert message.stop_reason == "tool_use"
    kinds = [(b.type, getattr(b, "name", None), getattr(b, "input", None)) for b in message.content]
    assert kinds == [
        ("text", None, None),
        ("tool_use", "get_weather", {"city": "Paris"}),
        ("tool_use", long_name, {}),
    ]
    assert fake.requests[-1].body["tools"][1]["function"]["name"] == short

    # The client answers both calls; OpenAI must get them back as tool messages, in order.
    first, second = cast(list[anthropic.types.ToolUseBlock], message.content[1:3])
    follow_up = [
        *HI,
        {"role": "assistant", "content": [b.model_dump() for b in message.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": first.id, "content": "22°C"},
                {"type": "tool_result", "tool_use_id": second.id, "content": "saved"},
            ],
        },
    ]
    final = both_ways(
        client, fake, Answer(content=["It is 22°C."]), tools=tools, messages=follow_up
    )
    assert cast(anthropic.types.TextBlock, final.content[0]).text == "It is 22°C."
    sent = fake.requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
    assert sent[1]["tool_calls"][1]["function"]["name"] == short
    # The client saw Anthropic-shaped ids; OpenAI gets back the ids it issued.
    assert first.id.startswith("toolu_") and second.id.startswith("toolu_")
    calls = answer.tool_calls
    assert [m["tool_call_id"] for m in sent[2:]] == [calls[0].id, calls[1].id]
    assert [c["id"] for c in sent[1]["tool_calls"]] == [calls[0].id, calls[1].id]


def test_interleaved_tool_call_fragments(client: anthropic.Anthropic, fake: FakeOpenAI) -> None:
    def fragment(index: int, text: str, name: str | None = None) -> dict[str, Any]:
        function = {"arguments": text} | ({"name": name} if name else {})
        start = {"id": f"call_{index}", "type": "function"} if name else {}
        return {"tool_calls": [{"index": index, "function": function, **start}]}

    deltas = [
        {"role": "assistant", "content": None},
        fragment(0, '{"city": ', "get_weather"),
        fragment(1, '{"city": "Rome"', "get_weather"),
        fragment(0, '"Oslo"}'),
        fragment(1, "}"),
    ]
    answer = Answer(
        tool_calls=[
            ToolCall("get_weather", ['{"city": "Oslo"}'], id="call_0"),
            ToolCall("get_weather", ['{"city": "Rome"}'], id="call_1"),
        ],
        deltas=deltas,
        finish_reason="tool_calls",
    )
    message = both_ways(client, fake, answer, tools=[WEATHER])
    calls = cast(list[anthropic.types.ToolUseBlock], message.content)
    assert [(b.id, b.input) for b in calls] == [
        ("toolu_oai_call_0", {"city": "Oslo"}),
        ("toolu_oai_call_1", {"city": "Rome"}),
    ]


@pytest.mark.parametrize(
    ("answer", "stop_reason", "text"),
    [
        (Answer(refusal=["I can't ", "help with that."]), "refusal", "I can't help with that."),
        (Answer(content=["cut sh"], finish_reason="length"), "max_tokens", "cut sh"),
        (Answer(content=["blocked"], finish_reason="content_filter"), "refusal", "blocked"),
    ],
)
def test_stop_reasons(
    client: anthropic.Anthropic, fake: FakeOpenAI, answer: Answer, stop_reason: str, text: str
) -> None:
    message = both_ways(client, fake, answer)
    assert message.stop_reason == stop_reason
    assert [b.text for b in message.content if b.type == "text"] == [text]


def test_reasoning_model_request(client: anthropic.Anthropic, fake: FakeOpenAI) -> None:
    answer = Answer(content=["42"], completion_tokens=300, reasoning_tokens=290)
    message = both_ways(
        client,
        fake,
        answer,
        model="o3",
        max_tokens=20000,
        extra_body={"temperature": 1.0},  # this SDK version no longer takes it as an argument
        thinking={"type": "enabled", "budget_tokens": 16384},
    )
    assert message.usage.output_tokens == 300 and message.model == "o3"
    body = fake.requests[-1].body
    assert body["reasoning_effort"] == "high" and "temperature" not in body
    assert body["max_completion_tokens"] == 20000


def test_raw_stream_follows_anthropic_grammar(
    servers: tuple[FakeOpenAI, str], fake: FakeOpenAI
) -> None:
    fake.enqueue(
        Answer(content=["\n\n"], tool_calls=[ToolCall("get_weather", ['{"city":', '"X"}'])])
    )
    payload = {"model": MODEL, "max_tokens": 50, "messages": HI, "stream": True, "tools": [WEATHER]}
    response = httpx.post(f"{servers[1]}/v1/messages", json=payload, timeout=10)
    assert response.status_code == 200
    events = check_stream(response.content)
    # OpenAI tells only at the end; message_start has the gateway's own count meanwhile.
    assert events[0]["message"]["usage"]["input_tokens"] > 0
    starts = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    assert starts == ["tool_use"]  # the whitespace-only text never became a block
    assert events[-2]["usage"]["input_tokens"] == 12


def test_slow_stream_with_pings(fake: FakeOpenAI) -> None:
    with fake.serve() as fake_url:
        config = config_for(fake_url, server={"ping_interval_seconds": 0.05})
        with serve_gateway(config) as url:
            fake.enqueue(Answer(content=["a", "b", "c"], delay=0.12))
            payload = {"model": MODEL, "max_tokens": 50, "messages": HI, "stream": True}
            response = httpx.post(f"{url}/v1/messages", json=payload, timeout=10)
    assert b"event: ping" in response.content
    events = check_stream(response.content)
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == "abc"


def test_cut_stream_becomes_an_error_event(client: anthropic.Anthropic, fake: FakeOpenAI) -> None:
    fake.enqueue(Answer(content=["Hel", "lo", "!"], cut_after=2))
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model=MODEL, max_tokens=50, messages=HI) as stream,
    ):
        stream.get_final_message()
    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    assert "closed the connection" in caught.value.message


def test_stream_cut_mid_line(servers: tuple[FakeOpenAI, str], fake: FakeOpenAI) -> None:
    fake.enqueue(Answer(content=["Hel", "lo"], cut_after=2, cut_mid_line=True))
    payload = {"model": MODEL, "max_tokens": 50, "messages": HI, "stream": True}
    response = httpx.post(f"{servers[1]}/v1/messages", json=payload, timeout=10)
    events = check_stream(response.content)
    assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "api_error"
    assert [e["delta"]["text"] for e in events if e["type"] == "content_block_delta"] == ["Hel"]


@pytest.mark.parametrize(
    ("reply", "error_class", "status"),
    [
        (ErrorReply(400, "Invalid 'messages': bad."), anthropic.BadRequestError, 400),
        (rate_limited("7"), anthropic.RateLimitError, 429),
        (insufficient_quota(), anthropic.APIStatusError, 402),
        (server_error(500), anthropic.InternalServerError, 500),
        (server_error(503), anthropic.APIStatusError, 529),
    ],
)
def test_upstream_errors(
    client: anthropic.Anthropic,
    fake: FakeOpenAI,
    reply: ErrorReply,
    error_class: type[anthropic.APIStatusError],
    status: int,
) -> None:
    for stream in (False, True):
        fake.enqueue(reply)
        with pytest.raises(error_class) as caught:
            client.messages.create(model=MODEL, max_tokens=10, messages=HI, stream=stream)
        assert caught.value.status_code == status
        assert reply.message in caught.value.message
        if status == 429:
            assert caught.value.response.headers["retry-after"] == "7"


def test_insufficient_quota_is_a_billing_error(
    client: anthropic.Anthropic, fake: FakeOpenAI
) -> None:
    fake.enqueue(insufficient_quota())
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model=MODEL, max_tokens=10, messages=HI)
    assert caught.value.body["error"]["type"] == "billing_error"  # type: ignore[index]
    assert "retry-after" not in caught.value.response.headers


def test_gateway_retries_rate_limits_but_not_an_empty_quota(fake: FakeOpenAI) -> None:
    with fake.serve() as fake_url:
        config = config_for(fake_url, retries={"max_retries": 2, "initial_backoff_seconds": 0.01})
        with (
            serve_gateway(config) as url,
            anthropic.Anthropic(base_url=url, api_key="x", max_retries=0) as client,
        ):
            fake.enqueue(rate_limited("0"), Answer(content=["after a retry"]))
            message = client.messages.create(model=MODEL, max_tokens=10, messages=HI)
            assert message.content[0].text == "after a retry"  # type: ignore[union-attr]

            fake.enqueue(insufficient_quota(), Answer(content=["never sent"]))
            with pytest.raises(anthropic.APIStatusError) as caught:
                client.messages.create(model=MODEL, max_tokens=10, messages=HI)
            assert caught.value.status_code == 402
    assert len(fake.requests) == 3  # 429, its retry, the quota error: which was not retried


def test_rejected_key_is_an_authentication_error(fake: FakeOpenAI) -> None:
    with fake.serve() as fake_url:
        config = make_config(
            {"openai": fake_url}, keys={"openai": "sk-wrong"}, auth={"disabled": True}
        )
        with serve_gateway(config) as url:
            client = anthropic.Anthropic(base_url=url, api_key="x", max_retries=0)
            with pytest.raises(anthropic.AuthenticationError) as caught:
                client.messages.create(model=MODEL, max_tokens=10, messages=HI)
            client.close()
    assert "providers.openai.api_key" in caught.value.message


def test_the_fake_rejects_unknown_fields_like_openai(servers: tuple[FakeOpenAI, str]) -> None:
    fake, _ = servers
    fake.reset()
    body = {
        "model": MODEL,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "x", "cache_control": {}}]}
        ],
    }
    with fake.serve() as url:
        response = httpx.post(
            f"{url}/chat/completions", json=body, headers={"authorization": f"Bearer {API_KEY}"}
        )
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "Unknown parameter: 'messages[0].content[0].cache_control'.",
            "type": "invalid_request_error",
            "param": "messages[0].content[0].cache_control",
            "code": "unknown_parameter",
        }
    }
    assert len(fake.rejections) == 1
    fake.reset()
