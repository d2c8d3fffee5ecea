"""Gemini generateContent ingress: requests onto Anthropic's, answers and streams back, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from ai_proxy.errors import (
    BillingError,
    GatewayError,
    InvalidRequest,
    Overloaded,
    RateLimited,
    RequestTooLarge,
    UpstreamError,
    UpstreamTimeout,
)
from ai_proxy.ingress.base import IngressCall
from ai_proxy.ingress.gemini import GeminiIngress
from ai_proxy.ingress.gemini.count import count_tokens_request
from ai_proxy.ingress.gemini.errors import google_error_from_event, to_google_error
from ai_proxy.ingress.gemini.thoughts import from_thought_signature, to_thought_signature
from ai_proxy.ingress.reasoning import DEFAULT_MAX_TOKENS

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ingress"
CALL = IngressCall("gemini-2.5-flash", "req_1", 1_700_000_000)
USER_HI = [{"role": "user", "parts": [{"text": "Hi"}]}]


def translate(payload: dict[str, Any], *, stream: bool = False) -> dict[str, Any]:
    return GeminiIngress().conversation(payload, CALL, stream=stream).messages_request


@pytest.mark.parametrize(
    ("error", "status", "name"),
    [
        (InvalidRequest("bad"), 400, "INVALID_ARGUMENT"),
        (BillingError("bad"), 400, "FAILED_PRECONDITION"),
        (RequestTooLarge("bad"), 400, "INVALID_ARGUMENT"),
        (UpstreamError("bad"), 502, "UNAVAILABLE"),
        (UpstreamTimeout("bad"), 504, "DEADLINE_EXCEEDED"),
        (Overloaded("bad"), 503, "UNAVAILABLE"),
    ],
)
def test_error_status_names(error: GatewayError, status: int, name: str) -> None:
    got_status, body = to_google_error(error)
    assert got_status == status
    assert orjson.loads(body) == {"error": {"code": status, "message": "bad", "status": name}}


def test_retry_after_becomes_retry_info() -> None:
    _, body = to_google_error(RateLimited("slow down", retry_after="17"))
    assert orjson.loads(body)["error"]["details"] == [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}
    ]


def test_stream_error_event() -> None:
    event = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    assert google_error_from_event(event) == {
        "error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}
    }


# --- requests ----------------------------------------------------------------------------


def test_the_captured_gemini_cli_tool_turn_translates() -> None:
    payload = orjson.loads((FIXTURES / "gemini_cli_turn2.json").read_bytes())
    request = translate(payload, stream=True)
    assert request["model"] == "gemini-2.5-flash" and request["stream"] is True
    assert request["system"][0]["type"] == "text"
    assert len(request["tools"]) == len(payload["tools"][0]["functionDeclarations"])
    shell = next(tool for tool in request["tools"] if tool["name"] == "run_shell_command")
    assert shell["input_schema"]["type"] == "object"
    # gemini-cli's bypass signature is not ours: no thinking block is made up from it.
    call, result = request["messages"][-2]["content"], request["messages"][-1]["content"]
    assert [block["type"] for block in call] == ["tool_use"]
    assert call[0]["input"] == {"command": "echo tok-9e2a"}
    assert result[0]["type"] == "tool_result" and result[0]["tool_use_id"] == call[0]["id"]
    assert "tok-9e2a" in result[0]["content"][0]["text"]
    # thinkingBudget 8192 and no maxOutputTokens; topK is dropped while thinking.
    assert request["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert request["max_tokens"] == 8192 + DEFAULT_MAX_TOKENS and "top_k" not in request


def test_the_router_schema_with_gemini_type_names_becomes_json_schema() -> None:
    payload = orjson.loads((FIXTURES / "gemini_cli_router.json").read_bytes())
    schema = translate(payload)["output_config"]["format"]["schema"]
    assert schema["type"] == "object"
    assert {sub["type"] for sub in schema["properties"].values()} == {"string", "integer"}


def test_calls_without_ids_pair_with_their_responses_by_name() -> None:
    contents = [
        *USER_HI,
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "a", "args": {"x": 1}}},
                {"functionCall": {"name": "b", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"text": "both done"},
                {"functionResponse": {"name": "b", "response": {"error": "boom"}}},
                {"functionResponse": {"name": "a", "response": {"value": 2}}},
            ],
        },
    ]
    first = translate({"contents": contents})["messages"]
    again = translate({"contents": contents})["messages"]
    assert first == again  # the same history, the same ids: prompt caches hold
    calls = {block["name"]: block["id"] for block in first[1]["content"]}
    results = first[2]["content"]
    assert [block["type"] for block in results] == ["tool_result", "tool_result", "text"]
    assert results[0] == {
        "type": "tool_result",
        "tool_use_id": calls["b"],
        "content": [{"type": "text", "text": "boom"}],
        "is_error": True,
    }
    assert results[1]["tool_use_id"] == calls["a"]
    assert results[1]["content"] == [{"type": "text", "text": '{"value":2}'}]


def test_an_id_anthropic_would_refuse_is_replaced_the_same_way_on_both_sides() -> None:
    contents = [
        *USER_HI,
        {"role": "model", "parts": [{"functionCall": {"id": "call:1/x", "name": "a"}}]},
        {"role": "user", "parts": [{"functionResponse": {"id": "call:1/x", "name": "a"}}]},
    ]
    messages = translate({"contents": contents})["messages"]
    tool_id = messages[1]["content"][0]["id"]
    assert tool_id.startswith("toolu_") and messages[2]["content"][0]["tool_use_id"] == tool_id


def test_snake_case_field_names_are_taken_as_google_takes_them() -> None:
    request = translate(
        {
            "contents": USER_HI,
            "system_instruction": {"parts": [{"text": "Be brief."}]},
            "generation_config": {
                "max_output_tokens": 100,
                "stop_sequences": ["END"],
                "thinking_config": {"thinking_budget": 0},
            },
        }
    )
    assert request["system"] == [{"type": "text", "text": "Be brief."}]
    assert request["max_tokens"] == 100 and request["stop_sequences"] == ["END"]
    assert request["thinking"] == {"type": "disabled"}


def test_media_and_schemas() -> None:
    parts = [
        {"text": "Look"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}},
    ]
    tools = [
        {
            "functionDeclarations": [
                {
                    "name": "f",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {"n": {"type": "INTEGER", "nullable": True}},
                        "required": ["n"],
                    },
                }
            ]
        },
    ]
    request = translate(
        {
            "contents": [{"role": "user", "parts": parts}],
            "tools": tools,
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
        }
    )
    blocks = request["messages"][0]["content"]
    assert [block["type"] for block in blocks] == ["text", "image", "document", "image"]
    assert blocks[1]["source"] == {
        "type": "base64",
        "media_type": "image/png",
        "data": "iVBORw0KGgo=",
    }
    assert blocks[3]["source"] == {"type": "url", "url": "https://example.com/cat.jpg"}
    assert request["tools"][0]["input_schema"] == {
        "type": "object",
        "properties": {"n": {"type": ["integer", "null"]}},
        "required": ["n"],
    }
    assert request["tool_choice"] == {"type": "tool", "name": "f"}


def test_google_search_is_anthropic_web_search() -> None:
    request = translate({"contents": USER_HI, "tools": [{"googleSearch": {}}]})
    assert request["tools"] == [{"type": "web_search_20250305", "name": "web_search"}]


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"generationConfig": {"candidateCount": 2}}, "generationConfig.candidateCount"),
        ({"generationConfig": {"responseModalities": ["IMAGE"]}}, "responseModalities"),
        ({"generationConfig": {"speechConfig": {}}}, "generationConfig.speechConfig"),
        ({"generationConfig": {"responseMimeType": "application/json"}}, "without a schema"),
        ({"cachedContent": "cachedContents/1"}, "cachedContent"),
        ({"tools": [{"codeExecution": {}}]}, "tools[0].codeExecution"),
        ({"generationConfig": {"temprature": 1}}, "generationConfig.temprature: unknown field"),
        ({"generationConfig": {"thinkingConfig": {"thinkingLevel": "huge"}}}, "thinkingLevel"),
        (
            {
                "generationConfig": {
                    "maxOutputTokens": 500,
                    "thinkingConfig": {"thinkingBudget": 2048},
                }
            },
            "leaves no room",
        ),
    ],
)
def test_what_cannot_be_carried_is_refused_by_name(payload: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidRequest, match=named.replace("[", r"\[").replace("]", r"\]")):
        translate({"contents": USER_HI, **payload})


@pytest.mark.parametrize(
    ("parts", "named"),
    [
        ([{"inlineData": {"mimeType": "audio/mp3", "data": "AA=="}}], "audio/mp3"),
        ([{"fileData": {"fileUri": "gs://bucket/a.png"}}], "fileUri"),
        ([{"executableCode": {"code": "1"}}], "executableCode"),
        ([{"functionCall": {"name": "f"}}], "functionCall: not in a 'user' turn"),
        ([{"functionResponse": {"name": "nobody", "response": {}}}], "no function call named"),
        ([{"text": 3}], r"contents\[0\].parts\[0\].text: expected a string"),
    ],
)
def test_parts_that_cannot_be_carried_are_refused_by_name(
    parts: list[dict[str, Any]], named: str
) -> None:
    with pytest.raises(InvalidRequest, match=named):
        translate({"contents": [{"role": "user", "parts": parts}]})


def test_count_tokens_counts_a_whole_request() -> None:
    counted = count_tokens_request(
        {
            "generateContentRequest": {
                "contents": USER_HI,
                "systemInstruction": {"parts": [{"text": "Be brief."}]},
                "generationConfig": {"temperature": 0.2},
            }
        },
        "gemini-2.5-flash",
    )
    assert set(counted) == {"model", "messages", "system"}


# --- answers -----------------------------------------------------------------------------

THINKING = {"type": "thinking", "thinking": "Let me think.", "signature": "sig-abc"}
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "content": [
        THINKING,
        {"type": "text", "text": "Calling."},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"n": 1}},
    ],
    "stop_reason": "tool_use",
    "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 7},
}


def conversation(*, include_thoughts: bool, sse: bool = True) -> Any:
    config = {"thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": include_thoughts}}
    payload = {"contents": USER_HI, "generationConfig": config}
    return GeminiIngress().conversation(payload, CALL, stream=True, sse=sse)


def test_an_answer_carries_its_thinking_in_the_next_parts_signature() -> None:
    answer = orjson.loads(conversation(include_thoughts=True).answer(MESSAGE))
    candidate = answer["candidates"][0]
    parts = candidate["content"]["parts"]
    assert parts[0] == {"text": "Let me think.", "thought": True}
    assert parts[1]["text"] == "Calling."
    assert from_thought_signature(parts[1]["thoughtSignature"]) == [THINKING]
    assert parts[2] == {"functionCall": {"id": "toolu_1", "name": "f", "args": {"n": 1}}}
    assert candidate["finishReason"] == "STOP"
    assert answer["usageMetadata"] == {
        "promptTokenCount": 15,
        "candidatesTokenCount": 7,
        "totalTokenCount": 22,
        "cachedContentTokenCount": 5,
    }
    assert answer["modelVersion"] == "gemini-2.5-flash"
    hidden = orjson.loads(conversation(include_thoughts=False).answer(MESSAGE))
    assert not [p for p in hidden["candidates"][0]["content"]["parts"] if p.get("thought")]


def test_a_signature_we_did_not_issue_carries_nothing() -> None:
    assert from_thought_signature("skip_thought_signature_validator") == []
    assert from_thought_signature("bm90IG91cnM=") == []  # base64, not ours
    assert from_thought_signature(to_thought_signature([THINKING])) == [THINKING]


def start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, **fields: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": fields}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


STREAM = [
    {"type": "message_start", "message": {"usage": {"input_tokens": 10, "output_tokens": 1}}},
    start(0, {"type": "thinking", "thinking": ""}),
    delta(0, type="thinking_delta", thinking="Hmm."),
    delta(0, type="signature_delta", signature="s1"),
    stop(0),
    {"type": "ping"},
    start(1, {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {}}),
    delta(1, type="input_json_delta", partial_json='{"n":'),
    delta(1, type="input_json_delta", partial_json="1}"),
    stop(1),
    {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
    {"type": "message_stop"},
]


def test_a_stream_as_sse_chunks() -> None:
    stream = conversation(include_thoughts=True).stream()
    frames = b"".join(stream.feed(event) for event in STREAM) + stream.finish()
    assert b"\r\n\r\n\r\n" in frames  # the ping: a blank line google-genai skips
    chunks = [
        orjson.loads(line[6:]) for line in frames.split(b"\r\n") if line.startswith(b"data: ")
    ]
    parts = [chunk["candidates"][0]["content"]["parts"][0] for chunk in chunks]
    assert parts[0] == {"text": "Hmm.", "thought": True}
    assert parts[1]["functionCall"] == {"id": "toolu_9", "name": "f", "args": {"n": 1}}
    blocks = from_thought_signature(parts[1]["thoughtSignature"])
    assert blocks == [{"type": "thinking", "thinking": "Hmm.", "signature": "s1"}]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 9
    assert all("finishReason" not in chunk["candidates"][0] for chunk in chunks[:-1])


def test_a_stream_without_alt_sse_is_a_json_array() -> None:
    stream = conversation(include_thoughts=False, sse=False).stream()
    frames = b"".join(stream.feed(event) for event in STREAM) + stream.finish()
    chunks = orjson.loads(frames)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert [c["candidates"][0]["content"]["parts"][0].get("thought") for c in chunks] == [
        None,
        None,
    ]


def test_a_stream_that_fails_ends_with_a_google_error() -> None:
    stream = conversation(include_thoughts=False, sse=False).stream()
    failed = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    frames = b"".join(stream.feed(event) for event in [*STREAM[:2], failed, *STREAM[2:]])
    chunks = orjson.loads(frames + stream.finish())
    assert chunks == [{"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}}]
