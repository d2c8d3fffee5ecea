"""The OpenAI doors with the official openai SDK as client (Chat Completions and Responses),
each through the gateway to fake upstreams of every format, over real HTTP, with a real
client key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from ai_proxy.auth import hash_key
from openai.types.responses import FunctionToolParam
from openai.types.shared_params import FunctionDefinition

from tests.fakes.anthropic import FakeAnthropic, text_reply, tool_use_reply
from tests.fakes.anthropic import rate_limited as anthropic_rate_limited
from tests.fakes.gemini import FakeGemini
from tests.fakes.gemini_replies import text_answer
from tests.fakes.openai import Answer, FakeOpenAI
from tests.gateway_server import make_config, serve_gateway

CLIENT_KEY = "aip_ingress-test-client-key"
WEATHER: FunctionDefinition = {
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


class Upstreams:
    def __init__(self, gemini: FakeGemini, anthropic: FakeAnthropic, openai_fake: FakeOpenAI):
        self.gemini, self.anthropic, self.openai = gemini, anthropic, openai_fake


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[Upstreams, str]]:
    openai_fake = FakeOpenAI()
    with (
        FakeGemini() as gemini,
        FakeAnthropic(client_keys={CLIENT_KEY}) as anthropic,
        openai_fake.serve() as openai_url,
    ):
        config = make_config(
            {"gemini": gemini.base_url, "anthropic": anthropic.base_url, "openai": openai_url},
            keys={
                "gemini": gemini.api_key,
                "anthropic": anthropic.api_key,
                "openai": openai_fake.api_key,
            },
            auth={"client_keys": [{"name": "ci", "sha256": hash_key(CLIENT_KEY)}]},
        )
        with serve_gateway(config) as url:
            yield Upstreams(gemini, anthropic, openai_fake), url


@pytest.fixture
def fakes(upstreams: tuple[Upstreams, str]) -> Upstreams:
    fakes = upstreams[0]
    fakes.gemini.reset()
    fakes.anthropic.reset()
    fakes.openai.reset()
    return fakes


@pytest.fixture
def gateway_url(upstreams: tuple[Upstreams, str]) -> str:
    return upstreams[1]


@pytest.fixture
def oai(gateway_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway_url + "/v1", api_key=CLIENT_KEY, max_retries=0) as sdk:
        yield sdk


# --- Chat Completions ----------------------------------------------------------------------


def test_chat_completion_served_by_gemini(oai: openai.OpenAI, fakes: Upstreams) -> None:
    fakes.gemini.enqueue(text_answer("Hello from Gemini"))
    completion = oai.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    )
    assert completion.choices[0].message.content == "Hello from Gemini"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gemini-2.5-flash" and completion.object == "chat.completion"
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    sent = fakes.gemini.requests[-1].json
    assert sent["systemInstruction"]["parts"][0]["text"] == "Be brief."


def test_chat_stream_with_a_tool_call_served_by_anthropic(
    oai: openai.OpenAI, fakes: Upstreams
) -> None:
    fakes.anthropic.enqueue(tool_use_reply("get_weather", {"city": "Paris"}, tool_id="toolu_01A"))
    chunks = list(
        oai.chat.completions.create(
            model="claude-sonnet-4-5",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[{"type": "function", "function": WEATHER}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    calls = [
        c for chunk in chunks for choice in chunk.choices for c in choice.delta.tool_calls or []
    ]
    assert (
        calls[0].id == "toolu_01A" and calls[0].function and calls[0].function.name == "get_weather"
    )
    arguments = "".join(c.function.arguments or "" for c in calls if c.function)
    assert arguments and json.loads(arguments) == {"city": "Paris"}
    finish = [choice.finish_reason for chunk in chunks for choice in chunk.choices]
    assert finish[-1] == "tool_calls"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    sent = fakes.anthropic.requests[-1].json
    assert sent["tools"][0]["name"] == "get_weather" and sent["stream"] is True


def test_chat_tool_result_round_trip_to_openai(oai: openai.OpenAI, fakes: Upstreams) -> None:
    fakes.openai.enqueue(Answer(content=["It is ", "sunny."]))
    completion = oai.chat.completions.create(
        model="gpt-4.1",
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 24C"},
        ],
        tools=[{"type": "function", "function": WEATHER}],
    )
    assert completion.choices[0].message.content == "It is sunny."
    sent = fakes.openai.requests[-1].body
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool"]


def test_chat_errors_are_openai_errors(
    oai: openai.OpenAI, fakes: Upstreams, gateway_url: str
) -> None:
    fakes.anthropic.enqueue(anthropic_rate_limited("7"))
    with pytest.raises(openai.RateLimitError) as limited:
        oai.chat.completions.create(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "Hi"}]
        )
    assert limited.value.response.headers["retry-after"] == "7"
    stranger = openai.OpenAI(base_url=gateway_url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        stranger.chat.completions.create(
            model="gpt-4.1", messages=[{"role": "user", "content": "Hi"}]
        )
    body: Any = refused.value.body
    assert "invalid client key" in body["message"]
    with pytest.raises(openai.BadRequestError) as bad:
        oai.chat.completions.create(
            model="gpt-4.1", messages=[{"role": "user", "content": "Hi"}], n=2
        )
    assert "n" in str(bad.value.body)


# --- Responses -----------------------------------------------------------------------------


def test_responses_served_by_gemini(oai: openai.OpenAI, fakes: Upstreams) -> None:
    fakes.gemini.enqueue(text_answer("Hello from Gemini"))
    response = oai.responses.create(
        model="gemini-2.5-flash", instructions="Be brief.", input="Hi", store=False
    )
    assert response.output_text == "Hello from Gemini"
    assert response.status == "completed" and response.usage is not None
    assert fakes.gemini.requests[-1].json["systemInstruction"]["parts"][0]["text"] == "Be brief."


def test_responses_stream_function_call_then_its_output(
    oai: openai.OpenAI, fakes: Upstreams
) -> None:
    tool: FunctionToolParam = {
        "type": "function",
        "name": WEATHER["name"],
        "description": WEATHER.get("description"),
        "parameters": WEATHER.get("parameters"),
        "strict": False,
    }
    fakes.anthropic.enqueue(
        tool_use_reply("get_weather", {"city": "Paris"}, tool_id="toolu_01B"),
        text_reply("Sunny in Paris."),
    )
    with oai.responses.stream(
        model="claude-sonnet-4-5", input="Weather in Paris?", tools=[tool], store=False
    ) as stream:
        events = list(stream)
        first = stream.get_final_response()
    numbers = [event.sequence_number for event in events]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert any(event.type == "response.function_call_arguments.delta" for event in events)
    call = next(item for item in first.output if item.type == "function_call")
    assert call.call_id == "toolu_01B" and call.name == "get_weather"
    second = oai.responses.create(
        model="claude-sonnet-4-5",
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
        tools=[tool],
        store=False,
    )
    assert second.output_text == "Sunny in Paris."
    sent = fakes.anthropic.requests[-1].json["messages"]
    assert (
        sent[1]["content"][0]["type"] == "tool_use" and sent[1]["content"][0]["id"] == "toolu_01B"
    )
    result = sent[2]["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "toolu_01B"
    assert "sunny" in json.dumps(result["content"])


def test_previous_response_id_is_refused_by_name(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        oai.responses.create(model="gpt-4.1", input="Hi", previous_response_id="resp_1")
    assert "previous_response_id" in str(refused.value.body)
