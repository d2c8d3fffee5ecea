"""The OpenAI doors with the official openai SDK as client (Chat Completions and Responses),
each through the gateway to fake upstreams of every format, over real HTTP, with a real
client key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from ai_proxy.auth import hash_key
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from openai.types.responses import FunctionToolParam
from openai.types.shared_params import FunctionDefinition

from tests.fakes.anthropic import FakeAnthropic, MessageReply, sign, text_reply, tool_use_reply
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


GEMINI_WEATHER = genai_types.FunctionDeclaration(
    name=WEATHER["name"],
    description=WEATHER.get("description"),
    parameters_json_schema=WEATHER.get("parameters"),
)


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


@pytest.fixture
def google(gateway_url: str) -> genai.Client:
    return genai.Client(
        api_key=CLIENT_KEY,
        http_options=genai_types.HttpOptions(
            base_url=gateway_url, retry_options=genai_types.HttpRetryOptions(attempts=1)
        ),
    )


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


def test_previous_response_id_without_the_fleet_store_is_refused_by_name(
    oai: openai.OpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        oai.responses.create(model="gpt-4.1", input="Hi", previous_response_id="resp_1")
    assert "previous_response_id: needs the earlier response" in refused.value.message
    assert "limits.redis_url" in refused.value.message  # what would keep responses


# --- Gemini generateContent ----------------------------------------------------------------


def test_generate_content_served_by_openai(google: genai.Client, fakes: Upstreams) -> None:
    fakes.openai.enqueue(Answer(content=["Hello ", "from OpenAI"]))
    answer = google.models.generate_content(
        model="gpt-4.1",
        contents="Hi",
        config=genai_types.GenerateContentConfig(system_instruction="Be brief."),
    )
    assert answer.text == "Hello from OpenAI"
    assert answer.candidates and answer.candidates[0].finish_reason == genai_types.FinishReason.STOP
    assert answer.usage_metadata and answer.usage_metadata.prompt_token_count
    assert fakes.openai.requests[-1].body["messages"][0]["content"] == "Be brief."


def test_stream_generate_content_function_call_served_by_anthropic(
    google: genai.Client, fakes: Upstreams
) -> None:
    fakes.anthropic.enqueue(tool_use_reply("get_weather", {"city": "Paris"}))
    chunks = list(
        google.models.generate_content_stream(
            model="claude-sonnet-4-5",
            contents="Weather in Paris?",
            config=genai_types.GenerateContentConfig(
                tools=[genai_types.Tool(function_declarations=[GEMINI_WEATHER])]
            ),
        )
    )
    calls = [call for chunk in chunks for call in chunk.function_calls or []]
    assert calls and calls[0].name == "get_weather" and calls[0].args == {"city": "Paris"}
    assert fakes.anthropic.requests[-1].json["tools"][0]["input_schema"]["required"] == ["city"]


def test_stream_generate_content_text_served_by_gemini(
    google: genai.Client, fakes: Upstreams
) -> None:
    fakes.gemini.enqueue(text_answer("one two three four", chunks=2))
    chunks = list(google.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"))
    assert "".join(chunk.text or "" for chunk in chunks) == "one two three four"


def test_count_tokens(google: genai.Client, fakes: Upstreams) -> None:
    counted = google.models.count_tokens(model="gemini-2.5-flash", contents="Hello there")
    assert counted.total_tokens and counted.total_tokens > 0


def test_gemini_errors_are_google_errors(gateway_url: str, fakes: Upstreams) -> None:
    stranger = genai.Client(
        api_key="wrong", http_options=genai_types.HttpOptions(base_url=gateway_url)
    )
    with pytest.raises(genai_errors.ClientError) as refused:
        stranger.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert refused.value.code == 401 and refused.value.status == "UNAUTHENTICATED"


def test_function_call_round_trip_keeps_anthropic_thinking(
    google: genai.Client, fakes: Upstreams
) -> None:
    """Claude's thinking rides in the thoughtSignature google-genai keeps on the call's part;
    the fake Anthropic refuses the next turn unless the signed block comes back intact."""
    weather = genai_types.Tool(function_declarations=[GEMINI_WEATHER])
    config = genai_types.GenerateContentConfig(
        tools=[weather],
        thinking_config=genai_types.ThinkingConfig(thinking_budget=2048, include_thoughts=True),
    )
    thinking = {
        "type": "thinking",
        "thinking": "Paris: look it up.",
        "signature": sign("Paris: look it up."),
    }
    call = {
        "type": "tool_use",
        "id": "toolu_01W",
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    fakes.anthropic.enqueue(MessageReply(content=(thinking, call), stop_reason="tool_use"))
    first = google.models.generate_content(
        model="claude-sonnet-4-5", contents="Weather in Paris?", config=config
    )
    assert first.candidates and first.candidates[0].content
    parts = first.candidates[0].content.parts or []
    assert [part.text for part in parts if part.thought] == ["Paris: look it up."]
    call_part = next(part for part in parts if part.function_call)
    assert call_part.thought_signature  # the thinking, packed
    fakes.anthropic.enqueue(text_reply("Sunny in Paris."))
    answer = genai_types.Part.from_function_response(name="get_weather", response={"output": "21C"})
    call_only = genai_types.Content(role="model", parts=[call_part])  # thoughts not sent back
    second = google.models.generate_content(
        model="claude-sonnet-4-5",
        contents=[
            genai_types.Content(role="user", parts=[genai_types.Part(text="Weather in Paris?")]),
            call_only,
            genai_types.Content(role="user", parts=[answer]),
        ],
        config=config,
    )
    assert second.text == "Sunny in Paris."
    turn = fakes.anthropic.requests[-1].json["messages"][1]["content"]
    assert turn[0] == {
        "type": "thinking",
        "thinking": "Paris: look it up.",
        "signature": turn[0]["signature"],
    }
    assert turn[1]["type"] == "tool_use" and turn[1]["input"] == {"city": "Paris"}
    result = fakes.anthropic.requests[-1].json["messages"][2]["content"][0]
    assert result["tool_use_id"] == turn[1]["id"] and result["content"][0]["text"] == "21C"


def test_stream_without_alt_sse_is_one_json_array(gateway_url: str, fakes: Upstreams) -> None:
    fakes.gemini.enqueue(text_answer("one two three four", chunks=2))
    response = httpx.post(
        f"{gateway_url}/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        headers={"x-goog-api-key": CLIENT_KEY},
        json={"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    chunks = response.json()
    text = "".join(
        part.get("text", "")
        for chunk in chunks
        for part in chunk["candidates"][0]["content"]["parts"]
    )
    assert text == "one two three four"
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_key_in_the_query_and_a_rate_limit_in_google_shape(
    gateway_url: str, fakes: Upstreams
) -> None:
    fakes.anthropic.enqueue(anthropic_rate_limited(retry_after="7"))
    response = httpx.post(
        f"{gateway_url}/v1beta/models/claude-sonnet-4-5:generateContent",
        params={"key": CLIENT_KEY},
        json={"contents": [{"parts": [{"text": "Hi"}]}]},
    )
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"} in error[
        "details"
    ]


def test_a_field_that_cannot_be_carried_is_named(google: genai.Client) -> None:
    with pytest.raises(genai_errors.ClientError) as refused:
        google.models.generate_content(
            model="claude-sonnet-4-5",
            contents="Hi",
            config=genai_types.GenerateContentConfig(candidate_count=2),
        )
    assert refused.value.code == 400 and refused.value.status == "INVALID_ARGUMENT"
    assert "candidateCount" in str(refused.value.message)
