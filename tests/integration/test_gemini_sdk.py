"""The official anthropic SDK -> our gateway over HTTP -> a fake Gemini over HTTP.

Every success scenario runs twice, streamed and not, and the two results must be equal.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import anthropic
import httpx
import pytest
from ai_proxy.providers.gemini.signatures import to_our_signature
from ai_proxy.providers.tool_names import to_upstream_tool_name

from tests.fakes.gemini import (
    Answer,
    Cut,
    FakeGemini,
    Timing,
    Usage,
    bad_gateway_html,
    blocked_prompt,
    fake_signature,
    function_call,
    internal_error,
    invalid_argument,
    invalid_json,
    malformed_function_call_answer,
    max_tokens_answer,
    mid_stream_error,
    model_not_found,
    overloaded,
    rate_limited,
    recitation_answer,
    safety_answer,
    text_answer,
    tool_call_answer,
)
from tests.fakes.gemini_rules import family_signature
from tests.gateway_server import make_config, serve_gateway
from tests.sse_grammar import check_stream

TOOLS: list[dict[str, Any]] = [
    {
        "name": "Bash",
        "description": "Run a shell command",
        "input_schema": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"command": {"type": "string"}, "timeout": {"type": "number"}},
            "required": ["command"],
            "additionalProperties": False,
        },
    },
    {
        "name": "Read",
        "description": "Read a file",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
    },
]
PNG_1PX = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
    )
).decode()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@pytest.fixture(scope="module")
def gateway_url(fake: FakeGemini) -> Iterator[str]:
    config = make_config(
        {"gemini": fake.base_url},
        keys={"gemini": fake.api_key},
        server={"ping_interval_seconds": 0.2},
        routing={"aliases": {"my-team-model": "gemini/gemini-2.5-pro"}},
    )
    with serve_gateway(config) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_fake(fake: FakeGemini) -> None:
    fake.reset()


@pytest.fixture
def client(gateway_url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway_url, api_key="client-key", max_retries=0) as sdk:
        yield sdk


def both_ways(
    client: anthropic.Anthropic, fake: FakeGemini, reply: Answer, **request: Any
) -> anthropic.types.Message:
    """Ask once without and once with streaming for the same scripted answer; both must match."""
    request = {"model": "gemini-2.5-flash", "max_tokens": 1024, **request}
    fake.enqueue(reply, reply)
    whole: anthropic.types.Message = client.messages.create(**request)
    with client.messages.stream(**request) as stream:
        streamed = stream.get_final_message()
    assert [r.streaming for r in fake.requests[-2:]] == [False, True]
    assert fake.requests[-1].json == fake.requests[-2].json
    assert _comparable(streamed) == _comparable(whole)
    return whole


def _comparable(message: anthropic.types.Message) -> dict[str, Any]:
    """Tool ids are minted per response, so compare everything else."""
    data = message.model_dump()
    data.pop("id")
    for block in data["content"]:
        if block["type"] == "tool_use":
            block.pop("id")
    return data


def hello(text: str = "Hi") -> list[anthropic.types.MessageParam]:
    return [{"role": "user", "content": text}]


def test_plain_text(client: anthropic.Anthropic, fake: FakeGemini) -> None:
    message = both_ways(
        client, fake, text_answer("Hello there, friend", chunks=3), messages=hello()
    )
    assert message.content[0].type == "text" and message.content[0].text == "Hello there, friend"
    assert message.stop_reason == "end_turn" and message.model == "gemini-2.5-flash"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    sent = fake.requests[-1]
    assert sent.headers["x-goog-api-key"] == fake.api_key and "key=" not in sent.query
    assert sent.json["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]


def test_alias_reports_the_name_the_client_asked_for(
    client: anthropic.Anthropic, fake: FakeGemini
) -> None:
    message = both_ways(client, fake, text_answer("ok"), model="my-team-model", messages=hello())
    assert message.model == "my-team-model"
    assert fake.requests[-1].model == "gemini-2.5-pro"


def test_system_and_generation_settings(client: anthropic.Anthropic, fake: FakeGemini) -> None:
    both_ways(
        client,
        fake,
        text_answer("ok"),
        messages=hello(),
        system="Be terse.",
        # SDK 2.x dropped these keywords for newer models; the API still takes them.
        extra_body={"temperature": 0.2, "top_p": 0.9, "top_k": 20},
        stop_sequences=["STOP"],
    )
    sent = fake.requests[-1].json
    assert sent["systemInstruction"] == {"parts": [{"text": "Be terse."}]}
    assert sent["generationConfig"] == {
        "maxOutputTokens": 1024,
        "temperature": 0.2,
        "topP": 0.9,
        "topK": 20,
        "stopSequences": ["STOP"],
    }


def test_thinking(client: anthropic.Anthropic, fake: FakeGemini) -> None:
    reply = text_answer(
        "The answer is 4.",
        chunks=2,
        thinking=["Two plus ", "two is four."],
        thinking_signature=fake_signature("t1"),
    )
    message = both_ways(
        client,
        fake,
        reply,
        messages=hello("2+2?"),
        thinking={"type": "enabled", "budget_tokens": 2048},
    )
    thinking, text = message.content
    assert thinking.type == "thinking" and thinking.thinking == "Two plus two is four."
    assert thinking.signature == "gemini:gemini-2.5-flash:" + fake_signature("t1")
    assert text.type == "text" and text.text == "The answer is 4."
    config = fake.requests[-1].json["generationConfig"]["thinkingConfig"]
    assert config == {"thinkingBudget": 2048, "includeThoughts": True}


def test_image_input(client: anthropic.Anthropic, fake: FakeGemini) -> None:
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_1PX}},
        {"type": "text", "text": "What is this?"},
    ]
    both_ways(
        client, fake, text_answer("A pixel."), messages=[{"role": "user", "content": content}]
    )
    assert fake.requests[-1].json["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/png", "data": PNG_1PX}},
        {"text": "What is this?"},
    ]


def test_parallel_calls_to_the_same_function_stay_separate(
    client: anthropic.Anthropic, fake: FakeGemini
) -> None:
    reply = tool_call_answer(
        function_call("Bash", {"command": "ls /a"}),
        function_call("Bash", {"command": "ls /b"}),
        preamble="Listing both.",
    )
    message = both_ways(client, fake, reply, messages=hello("list"), tools=TOOLS)
    tool_uses = [b for b in message.content if b.type == "tool_use"]
    assert [b.input for b in tool_uses] == [{"command": "ls /a"}, {"command": "ls /b"}]
    assert len({b.id for b in tool_uses}) == 2
    assert message.stop_reason == "tool_use"


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-3-pro-preview"])
@pytest.mark.parametrize("stream", [False, True])
def test_multi_step_tool_use_round_trip(
    client: anthropic.Anthropic, fake: FakeGemini, model: str, stream: bool
) -> None:
    """Signatures must survive the round trip: Gemini 3 refuses unsigned function calls."""
    fake.enqueue(
        tool_call_answer(
            function_call("Bash", {"command": "ls"}),
            function_call("Read", {"path": "a.txt"}),
            thinking="I should look around.",
        ),
        text_answer("There is one file."),
    )
    messages: list[Any] = hello("What is here?")
    request: dict[str, Any] = {
        "model": model,
        "max_tokens": 2048,
        "tools": TOOLS,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    first = _ask(client, stream, messages=messages, **request)
    assert first.stop_reason == "tool_use"
    calls = [b for b in first.content if b.type == "tool_use"]
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {
            "role": "user",
            "content": [
                # Answered in reverse order: the gateway restores call order for Gemini.
                {"type": "tool_result", "tool_use_id": calls[1].id, "content": "hello"},
                {
                    "type": "tool_result",
                    "tool_use_id": calls[0].id,
                    "content": "a.txt",
                    "is_error": False,
                },
            ],
        },
    ]
    second = _ask(client, stream, messages=messages, **request)
    assert fake.requests[-1].status == 200, fake.requests[-1]
    assert second.content[-1].type == "text" and second.content[-1].text == "There is one file."
    sent = fake.requests[-1].json["contents"]
    model_parts, result_parts = sent[1]["parts"], sent[2]["parts"]
    issued = [b.signature for b in first.content if b.type == "thinking" and b.signature]
    signed_call = next(p for p in model_parts if "functionCall" in p)
    assert to_our_signature(signed_call["thoughtSignature"], model) in issued
    assert [p["functionResponse"]["name"] for p in result_parts] == ["Bash", "Read"]
    assert result_parts[0]["functionResponse"]["response"] == {"output": "a.txt"}


def _ask(client: anthropic.Anthropic, stream: bool, **request: Any) -> anthropic.types.Message:
    if not stream:
        message: anthropic.types.Message = client.messages.create(**request)
        return message
    with client.messages.stream(**request) as events:
        return events.get_final_message()


@pytest.mark.parametrize(
    ("reply", "stop_reason"),
    [
        (max_tokens_answer("Once upon a"), "max_tokens"),
        (safety_answer(), "refusal"),
        (recitation_answer("Partial"), "refusal"),
        (blocked_prompt(), "refusal"),
    ],
)
def test_stop_reasons(
    client: anthropic.Anthropic, fake: FakeGemini, reply: Answer, stop_reason: str
) -> None:
    assert both_ways(client, fake, reply, messages=hello()).stop_reason == stop_reason


@pytest.mark.parametrize(
    ("reply", "status", "error_type"),
    [
        (invalid_argument("Request contains an invalid argument."), 400, "invalid_request_error"),
        (model_not_found(), 404, "not_found_error"),
        (rate_limited(retry_delay="17s"), 429, "rate_limit_error"),
        (internal_error(), 500, "api_error"),
        (overloaded(), 529, "overloaded_error"),
        (bad_gateway_html(), 502, "api_error"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_errors_keep_their_meaning(
    client: anthropic.Anthropic,
    fake: FakeGemini,
    reply: Any,
    status: int,
    error_type: str,
    stream: bool,
) -> None:
    fake.enqueue(*[reply] * 5)
    with pytest.raises(anthropic.APIStatusError) as info:
        _ask(client, stream, model="gemini-2.5-flash", max_tokens=10, messages=hello())
    assert info.value.status_code == status
    assert info.value.body["error"]["type"] == error_type  # type: ignore[index]
    if status == 429:
        assert info.value.response.headers["retry-after"] == "17"
    assert fake.api_key not in info.value.response.text


def test_malformed_function_call_is_a_clear_error(
    client: anthropic.Anthropic, fake: FakeGemini
) -> None:
    fake.enqueue(malformed_function_call_answer())
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(model="gemini-2.5-flash", max_tokens=10, messages=hello())
    assert "MALFORMED_FUNCTION_CALL" in info.value.message


def test_invalid_upstream_json_is_a_bad_gateway(
    client: anthropic.Anthropic, fake: FakeGemini
) -> None:
    fake.enqueue(*[invalid_json()] * 5)
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(model="gemini-2.5-flash", max_tokens=10, messages=hello())
    assert info.value.status_code == 502


def test_missing_provider_key_names_the_setting(fake: FakeGemini) -> None:
    config = make_config({"gemini": fake.base_url}, keys={})
    with (
        serve_gateway(config) as url,
        anthropic.Anthropic(base_url=url, api_key="x", max_retries=0) as sdk,
        pytest.raises(anthropic.APIStatusError) as info,
    ):
        sdk.messages.create(model="gemini-2.5-flash", max_tokens=10, messages=hello())
    assert "providers.gemini.api_key" in info.value.message
    assert "AI_PROXY_PROVIDERS__GEMINI__API_KEY" in info.value.message
    assert fake.requests == []


def test_wrong_upstream_key_is_an_authentication_error(fake: FakeGemini) -> None:
    config = make_config({"gemini": fake.base_url}, keys={"gemini": "wrong-key-123"})
    with (
        serve_gateway(config) as url,
        anthropic.Anthropic(base_url=url, api_key="x", max_retries=0) as sdk,
        pytest.raises(anthropic.AuthenticationError) as info,
    ):
        sdk.messages.create(model="gemini-2.5-flash", max_tokens=10, messages=hello())
    assert "wrong-key-123" not in info.value.response.text


# --- issue 10: the Anthropic API as clients send it today ------------------------------------


def test_xhigh_effort_sets_a_budget_without_showing_thoughts(
    client: anthropic.Anthropic, fake: FakeGemini
) -> None:
    """Claude Code on Opus 4.7 sends `effort: "xhigh"` with every request."""
    message = both_ways(
        client,
        fake,
        text_answer("4"),
        model="gemini-2.5-pro",
        messages=hello("2+2?"),
        extra_body={"output_config": {"effort": "xhigh"}},
    )
    assert [b.type for b in message.content] == ["text"]
    config = fake.requests[-1].json["generationConfig"]["thinkingConfig"]
    assert config == {"thinkingBudget": 32768}


@pytest.mark.parametrize("stream", [False, True])
def test_omitted_thinking_still_carries_signatures_through_a_tool_loop(
    client: anthropic.Anthropic, fake: FakeGemini, stream: bool
) -> None:
    """display "omitted": no thoughts asked for, but Gemini 3's signature still comes back on
    the call, rides on an empty thinking block, and returns with it (the fake checks)."""
    model = "gemini-3-pro-preview"
    fake.enqueue(tool_call_answer(function_call("Bash", {"command": "ls"})), text_answer("Done."))
    request: dict[str, Any] = {
        "model": model,
        "max_tokens": 2048,
        "tools": TOOLS,
        "extra_body": {"thinking": {"type": "adaptive", "display": "omitted"}},
    }
    messages: list[Any] = hello("look around")
    first = _ask(client, stream, messages=messages, **request)
    assert fake.requests[-1].json["generationConfig"]["thinkingConfig"] == {"thinkingBudget": -1}
    thinking, call = first.content
    assert thinking.type == "thinking" and thinking.thinking == ""
    assert thinking.signature.startswith("gemini:gemini-3-pro:")
    assert call.type == "tool_use"
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "a"}],
        },
    ]
    second = _ask(client, stream, messages=messages, **request)
    assert fake.requests[-1].status == 200
    assert second.content[-1].type == "text"
    sent_call = fake.requests[-1].json["contents"][1]["parts"][0]
    assert sent_call["thoughtSignature"] == fake_signature("call:Bash")


WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
    "required": ["city", "celsius"],
    "additionalProperties": False,
}


def test_structured_output_is_one_text_block_of_json(
    client: anthropic.Anthropic, fake: FakeGemini
) -> None:
    answer_json = '{"city": "Paris", "celsius": 21}'
    message = both_ways(
        client,
        fake,
        text_answer(answer_json, chunks=3),
        messages=hello("Weather in Paris?"),
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": WEATHER_SCHEMA}}},
    )
    [block] = message.content
    assert block.type == "text" and block.text == answer_json
    config = fake.requests[-1].json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == WEATHER_SCHEMA


MCP_NAME = "mcp__claude_ai_Atlassian_Confluence__searchConfluenceUsingCql_with_a_long_suffix"
DIGIT_NAME = "7zip_extract"


@pytest.mark.parametrize("name", [MCP_NAME, DIGIT_NAME])
@pytest.mark.parametrize("stream", [False, True])
def test_tool_names_gemini_refuses_round_trip(
    client: anthropic.Anthropic, fake: FakeGemini, name: str, stream: bool
) -> None:
    """Declared, called, answered and mapped back; the fake refuses the raw names."""
    tools = [*TOOLS, {"name": name, "input_schema": {"type": "object"}}]

    def call_it(recorded: Any) -> Any:
        declared = recorded.json["tools"][0]["functionDeclarations"][-1]["name"]
        return tool_call_answer(function_call(declared, {"q": "x"}))

    fake.enqueue(call_it, text_answer("Found it."))
    messages: list[Any] = hello("search")
    first = _ask(
        client, stream, model="gemini-2.5-flash", max_tokens=512, messages=messages, tools=tools
    )
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert call.name == name and call.input == {"q": "x"}
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "1"}],
        },
    ]
    second = _ask(
        client,
        stream,
        model="gemini-2.5-flash",
        max_tokens=512,
        messages=messages,
        tools=tools,
        tool_choice={"type": "tool", "name": name},
    )
    assert second.content[-1].type == "text"
    sent = fake.requests[-1].json
    upstream = to_upstream_tool_name(name)
    assert upstream != name
    assert sent["contents"][1]["parts"][-1]["functionCall"]["name"] == upstream
    assert sent["contents"][2]["parts"][0]["functionResponse"]["name"] == upstream
    assert sent["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"] == [upstream]


def another_providers_loop(signature: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "list files"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "I will list.", "signature": signature},
                {"type": "tool_use", "id": "toolu_01A", "name": "Bash", "input": {"command": "ls"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_01A", "content": "a.txt"}],
        },
    ]


@pytest.mark.parametrize(
    "signature",
    [
        "EqQBCkgIARABGAIiQLZ1r+/7Qk9bc3mZ0dGVzdA==",  # Claude's
        to_our_signature(family_signature("gemini-2.5-flash", "c"), "gemini-2.5-flash"),
        "gemini:" + fake_signature("from before families were recorded"),
    ],
    ids=["anthropic", "gemini-2.5-flash", "unknown-family"],
)
def test_gemini_3_takes_a_tool_loop_it_did_not_sign(
    client: anthropic.Anthropic, fake: FakeGemini, signature: str
) -> None:
    message = both_ways(
        client,
        fake,
        text_answer("One file."),
        model="gemini-3-pro-preview",
        messages=another_providers_loop(signature),
        tools=TOOLS,
        extra_body={"thinking": {"type": "adaptive"}},
    )
    assert message.content[-1].type == "text"
    assert [r.status for r in fake.requests] == [200, 200]
    model_turn = fake.requests[-1].json["contents"][1]["parts"]
    assert model_turn == [
        {
            "functionCall": {"name": "Bash", "args": {"command": "ls"}},
            "thoughtSignature": "skip_thought_signature_validator",
        }
    ]


GIF_1PX = base64.b64encode(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").decode()


def test_a_gif_in_a_tool_result_is_replaced_by_a_note(
    client: anthropic.Anthropic, fake: FakeGemini
) -> None:
    """Claude Code's Read tool returns GIFs as images; Gemini refuses the whole request."""
    messages = [
        {"role": "user", "content": "show me logo.gif"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "logo.gif"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": "image/gif",
                                "data": GIF_1PX,
                            },
                        }
                    ],
                }
            ],
        },
    ]
    both_ways(client, fake, text_answer("I cannot see it."), messages=messages, tools=TOOLS)
    parts = fake.requests[-1].json["contents"][2]["parts"]
    assert parts[1] == {"text": "[image omitted: Gemini does not accept image/gif]"}


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_found_through_tool_search_is_declared_and_called(
    client: anthropic.Anthropic, fake: FakeGemini, stream: bool
) -> None:
    """Claude Code's ToolSearch answers with tool_reference blocks; the next request declares
    the tool it names, and the model calls it by name."""
    deferred = "mcp__github__create_issue"
    tools = [
        *TOOLS,
        {"name": "ToolSearch", "input_schema": {"type": "object"}},
        {"name": deferred, "input_schema": {"type": "object"}, "defer_loading": True},
    ]
    fake.enqueue(
        tool_call_answer(function_call("ToolSearch", {"query": "github issue"})),
        tool_call_answer(function_call(deferred, {"title": "Bug"})),
    )
    request: dict[str, Any] = {"model": "gemini-2.5-flash", "max_tokens": 512, "tools": tools}
    messages: list[Any] = hello("file a bug")
    first = _ask(client, stream, messages=messages, **request)
    declared = [d["name"] for d in fake.requests[-1].json["tools"][0]["functionDeclarations"]]
    assert deferred not in declared
    [search] = [b for b in first.content if b.type == "tool_use"]
    reference = {"type": "tool_reference", "tool_name": deferred}
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": search.id, "content": [reference]}],
        },
    ]
    second = _ask(client, stream, messages=messages, **request)
    declared = [d["name"] for d in fake.requests[-1].json["tools"][0]["functionDeclarations"]]
    assert deferred in declared
    output = fake.requests[-1].json["contents"][2]["parts"][0]["functionResponse"]["response"]
    assert output == {"output": f"Tool '{deferred}' is now available; call it directly."}
    [issue] = [b for b in second.content if b.type == "tool_use"]
    assert issue.name == deferred and issue.input == {"title": "Bug"}


def test_a_search_result_in_a_tool_result_reaches_gemini_as_text(
    client: anthropic.Anthropic, fake: FakeGemini
) -> None:
    messages = [
        {"role": "user", "content": "what do the docs say?"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "docs"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [
                        {
                            "type": "search_result",
                            "source": "https://docs.example.com/retries",
                            "title": "Retry policy",
                            "content": [{"type": "text", "text": "Retry three times."}],
                        }
                    ],
                }
            ],
        },
    ]
    both_ways(client, fake, text_answer("Three times."), messages=messages, tools=TOOLS)
    response = fake.requests[-1].json["contents"][2]["parts"][0]["functionResponse"]
    output = response["response"]["output"]
    assert "Retry policy" in output and "https://docs.example.com/retries" in output
    assert "Retry three times." in output


def test_a_one_token_probe_on_a_thinking_model_is_a_max_tokens_stop(
    client: anthropic.Anthropic, fake: FakeGemini
) -> None:
    """Claude Code's model switch sends max_tokens 1; gemini-2.5-pro spends it thinking."""
    probe = Answer(finish_reason="MAX_TOKENS", usage=Usage(thoughts=1))
    message = both_ways(client, fake, probe, model="gemini-2.5-pro", max_tokens=1, messages=hello())
    assert message.stop_reason == "max_tokens" and message.content == []
    assert fake.requests[-1].json["generationConfig"]["maxOutputTokens"] == 1


def test_malformed_response_is_an_error_never_an_empty_answer(
    gateway_url: str, client: anthropic.Anthropic, fake: FakeGemini
) -> None:
    fake.enqueue(Answer(finish_reason="MALFORMED_RESPONSE"))
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(model="gemini-2.5-flash", max_tokens=10, messages=hello())
    assert info.value.status_code == 502
    assert "MALFORMED_RESPONSE" in info.value.message
    fake.enqueue(Answer(finish_reason="MALFORMED_RESPONSE"))
    events = check_stream(raw_stream(gateway_url, STREAM_BODY))
    assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "api_error"


# --- raw streams -------------------------------------------------------------------------


def raw_stream(url: str, body: dict[str, Any], timeout: float = 10) -> bytes:
    with httpx.stream("POST", f"{url}/v1/messages", json=body, timeout=timeout) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return b"".join(response.iter_raw())


STREAM_BODY = {"model": "gemini-2.5-flash", "max_tokens": 100, "stream": True, "messages": hello()}


def test_raw_stream_grammar_with_every_block_kind(gateway_url: str, fake: FakeGemini) -> None:
    fake.enqueue(
        tool_call_answer(
            function_call("Bash", {"command": "ls"}),
            preamble="Let me look.",
            thinking="Plan.",
        )
    )
    events = check_stream(raw_stream(gateway_url, {**STREAM_BODY, "tools": TOOLS}))
    starts = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    assert starts == ["thinking", "text", "thinking", "tool_use"]
    assert events[0]["message"]["usage"]["input_tokens"] > 0
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


def test_text_is_relayed_as_it_arrives(gateway_url: str, fake: FakeGemini) -> None:
    """The first delta reaches the client while Gemini is still generating the rest."""
    reply = text_answer(["one ", "two ", "three"], timing=Timing(between_chunks=1.0))
    fake.enqueue(reply)
    with httpx.stream("POST", f"{gateway_url}/v1/messages", json=STREAM_BODY, timeout=10) as r:
        seen = b""
        for piece in r.iter_raw():
            seen += piece
            if b"text_delta" in seen:
                break
        assert b'"one "' in seen and b"two" not in seen


def test_silent_upstream_gets_pings_after_message_start(gateway_url: str, fake: FakeGemini) -> None:
    """Anthropic's streams open with message_start: no ping goes out before it, however long
    Gemini takes to begin; after it, silence between chunks is filled with pings."""
    reply = text_answer(
        ["early ", "late"], timing=Timing(before_first_chunk=0.5, between_chunks=0.7)
    )
    fake.enqueue(reply)
    raw = raw_stream(gateway_url, STREAM_BODY)
    assert raw.startswith(b"event: message_start")
    assert raw.count(b"event: ping") >= 2
    check_stream(raw)


@pytest.mark.parametrize("mid_event", [False, True])
def test_cut_stream_ends_with_an_error_event(
    gateway_url: str, fake: FakeGemini, mid_event: bool
) -> None:
    fake.enqueue(replace(text_answer("a b c d e f", chunks=4), cut=Cut(2, mid_event=mid_event)))
    events = check_stream(raw_stream(gateway_url, STREAM_BODY))
    assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "api_error"
    assert any(e["type"] == "content_block_delta" for e in events)


def test_error_in_the_middle_of_a_stream(gateway_url: str, fake: FakeGemini) -> None:
    fake.enqueue(replace(text_answer("a b c d", chunks=4), stream_error=mid_stream_error(2)))
    events = check_stream(raw_stream(gateway_url, STREAM_BODY))
    assert events[-1]["type"] == "error"


def test_client_disconnect_closes_the_upstream_stream(gateway_url: str, fake: FakeGemini) -> None:
    fake.enqueue(text_answer([f"w{i} " for i in range(40)], timing=Timing(between_chunks=0.1)))
    with httpx.stream("POST", f"{gateway_url}/v1/messages", json=STREAM_BODY, timeout=10) as r:
        for piece in r.iter_raw():
            if b"text_delta" in piece:
                break
    upstream = fake.requests[-1]
    deadline = time.monotonic() + 3
    while not upstream.client_gone and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.client_gone and upstream.chunks_sent < 40


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"x"}]}', "max_tokens"),
        (b'{"model":"gemini-2.5-flash","max_tokens":5,"messages":[]}', "messages"),
        # Strict types, as at Anthropic: no string-to-number or string-to-bool coercion.
        (
            b'{"model":"gemini-2.5-flash","max_tokens":"100","messages":[{"role":"user","content":"x"}]}',
            "max_tokens",
        ),
        (
            b'{"model":"gemini-2.5-flash","max_tokens":9,"stream":"yes","messages":[{"role":"user","content":"x"}]}',
            "stream",
        ),
        (
            b'{"model":"gemini-2.5-flash","max_tokens":"5","messages":[{"role":"user","content":7}]}',
            "messages.0.content",
        ),
        (
            b'{"model":"gemini-2.5-flash","max_tokens":5,"messages":[{"role":"user","content":'
            b'[{"type":"holo","text":"x"}]}]}',
            "content block type 'holo' is not supported on gemini",
        ),
        (
            b'{"model":"gemini-2.5-flash","max_tokens":5,"messages":[{"role":"user","content":'
            b'[{"type":"tool_result","tool_use_id":"toolu_x","content":"r"}]}]}',
            "toolu_x",
        ),
        (
            b'{"model":"llama-3","max_tokens":5,"messages":[{"role":"user","content":"x"}]}',
            "not routed",
        ),
    ],
)
def test_bad_input_gets_a_clear_4xx(
    gateway_url: str, fake: FakeGemini, body: bytes, fragment: str
) -> None:
    response = httpx.post(f"{gateway_url}/v1/messages", content=body, timeout=5)
    assert 400 <= response.status_code < 500
    error = response.json()
    assert error["type"] == "error" and fragment in error["error"]["message"]
    assert fake.requests == []
    assert httpx.head(f"{gateway_url}/", timeout=5).status_code == 200  # still serving
