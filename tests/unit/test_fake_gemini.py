"""The fake Gemini itself: it must refuse what Gemini refuses and answer what Gemini answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import orjson
import pytest
from google.ai.generativelanguage_v1beta.types import generative_service
from google.protobuf import json_format

from tests.fakes.gemini import (
    Answer,
    Cut,
    FakeGemini,
    Hang,
    HttpReply,
    RecordedRequest,
    Timing,
    Usage,
    answer,
    bad_gateway_html,
    blocked_prompt,
    fake_signature,
    function_call,
    internal_error,
    invalid_json,
    malformed_function_call_answer,
    max_tokens_answer,
    mid_stream_error,
    model_not_found,
    overloaded,
    rate_limited,
    recitation_answer,
    safety_answer,
    split_words,
    text,
    text_answer,
    thought,
    tool_call_answer,
    wrong_content_type,
)
from tests.fakes.gemini_rules import family_signature
from tests.fakes.server import BackgroundServer

MODEL = "gemini-2.5-flash"
GENERATE = f"/v1beta/models/{MODEL}:generateContent"
STREAM = f"/v1beta/models/{MODEL}:streamGenerateContent"
HELLO = {"contents": [{"role": "user", "parts": [{"text": "Say hello to me"}]}]}


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@pytest.fixture
def client(fake: FakeGemini) -> Iterator[httpx.Client]:
    headers = {"x-goog-api-key": fake.api_key}
    with httpx.Client(base_url=fake.base_url, headers=headers, timeout=5) as http:
        yield http


def stream_events(client: httpx.Client, body: Any = HELLO, path: str = STREAM) -> list[Any]:
    response = client.post(path, params={"alt": "sse"}, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/event-stream"
    raw = response.content
    assert raw.endswith(b"\r\n\r\n")
    events = raw[: -len(b"\r\n\r\n")].split(b"\r\n\r\n")
    assert all(event.startswith(b"data: ") for event in events)
    return [orjson.loads(event[len(b"data: ") :]) for event in events]


def parses_as_response(body: dict[str, Any]) -> None:
    """What the fake sends must itself be a valid v1beta GenerateContentResponse."""
    message = generative_service.GenerateContentResponse.pb()()
    json_format.ParseDict(body, message, ignore_unknown_fields=False)


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == response.status_code
    return error


# --- lifecycle -----------------------------------------------------------------------------


def test_starts_fast_and_stops_without_leaving_threads() -> None:
    threads = threading.active_count()
    began = time.perf_counter()
    fake = FakeGemini().start()
    assert time.perf_counter() - began < 0.5
    assert fake.base_url.startswith("http://127.0.0.1:")
    assert httpx.get(fake.base_url + "/nowhere").status_code == 404
    fake.stop()
    assert threading.active_count() == threads


def test_background_server_also_hosts_asgi_apps() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"asgi ok"})

    with BackgroundServer(app, name="asgi-test") as server:
        assert httpx.get(server.base_url + "/").text == "asgi ok"


def test_stop_releases_a_hanging_request(fake: FakeGemini) -> None:
    fake.enqueue(Hang())
    failures: list[Exception] = []

    def call() -> None:
        try:
            httpx.post(
                fake.base_url + GENERATE,
                json=HELLO,
                headers={"x-goog-api-key": fake.api_key},
                timeout=10,
            )
        except httpx.HTTPError as error:
            failures.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    # Wait for the request to arrive, not for a fixed time: a loaded machine connects late.
    deadline = time.monotonic() + 5
    while not fake.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    began = time.perf_counter()
    fake.stop()
    caller.join(5)
    assert time.perf_counter() - began < 1
    assert len(failures) == 1 and isinstance(failures[0], httpx.RemoteProtocolError)


# --- auth ----------------------------------------------------------------------------------


def test_a_missing_key_is_403_permission_denied(fake: FakeGemini) -> None:
    response = httpx.post(fake.base_url + GENERATE, json=HELLO)
    assert response.status_code == 403
    error = error_of(response)
    assert error["status"] == "PERMISSION_DENIED"
    assert error["message"].startswith("Method doesn't allow unregistered callers")


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"x-goog-api-key": "wrong"}, {}),
        ({}, {"key": "test-gemini-key"}),  # right key, wrong place: it would reach access logs
        ({"x-goog-api-key": "test-gemini-key"}, {"key": "test-gemini-key"}),
    ],
)
def test_a_wrong_or_query_string_key_is_400_api_key_invalid(
    fake: FakeGemini, headers: dict[str, str], params: dict[str, str]
) -> None:
    response = httpx.post(fake.base_url + GENERATE, json=HELLO, headers=headers, params=params)
    assert response.status_code == 400
    error = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"] == "API key not valid. Please pass a valid API key."
    assert error["details"][0] == {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }


# --- schema validation ---------------------------------------------------------------------


def test_a_valid_request_is_accepted_and_recorded(fake: FakeGemini, client: httpx.Client) -> None:
    body = {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": HELLO["contents"],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "parametersJsonSchema": {"type": "object", "additionalProperties": False},
                    }
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
        "generation_config": {
            "max_output_tokens": "100",
            "thinkingConfig": {"thinkingLevel": "LOW"},
        },
    }
    response = client.post(GENERATE, json=body)
    assert response.status_code == 200, response.text
    recorded = fake.requests[-1]
    assert (recorded.model, recorded.action, recorded.status) == (MODEL, "generateContent", 200)
    assert recorded.json == body
    assert recorded.headers["x-goog-api-key"] == fake.api_key


def test_an_unknown_field_is_refused_with_googles_bad_request(client: httpx.Client) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi", "foo": 1}]}]}
    response = client.post(GENERATE, json=body)
    assert response.status_code == 400
    message = (
        "Invalid JSON payload received. Unknown name \"foo\" at 'contents[0].parts[0]': "
        "Cannot find field."
    )
    assert response.json() == {
        "error": {
            "code": 400,
            "message": message,
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": "contents[0].parts[0]", "description": message}],
                }
            ],
        }
    }


def test_a_wrong_type_is_refused_and_every_violation_listed(client: httpx.Client) -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": 123}]}],
        "generationConfig": {"temperature": "hot", "seed": 3812238859},
        "bogus": True,
    }
    response = client.post(GENERATE, json=body)
    assert response.status_code == 400
    violations = error_of(response)["details"][0]["fieldViolations"]
    assert violations == [
        {
            "field": "contents[0].parts[0].text",
            "description": "Invalid value at 'contents[0].parts[0].text' (TYPE_STRING), 123",
        },
        {
            "field": "generation_config.temperature",
            "description": "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\"",
        },
        {
            "field": "generation_config.seed",
            "description": "Invalid value at 'generation_config.seed' (TYPE_INT32), 3812238859",
        },
        # An unknown name on the root object has no field path.
        {"description": 'Invalid JSON payload received. Unknown name "bogus": Cannot find field.'},
    ]


@pytest.mark.parametrize(
    ("body", "field", "description"),
    [
        (
            {"contents": [{"parts": [{"text": "a", "functionCall": {"name": "f"}}]}]},
            "contents[0].parts[0]",
            "Invalid value at 'contents[0].parts[0]' (oneof), oneof field 'data' is already set. "
            "Cannot set 'functionCall'",
        ),
        (
            {"contents": [{"parts": [{"text": "a", "thoughtSignature": "not base64!"}]}]},
            "contents[0].parts[0].thought_signature",
            "Invalid value at 'contents[0].parts[0].thought_signature' (TYPE_BYTES), "
            'Base64 decoding failed for "not base64!"',
        ),
        (
            {
                "contents": HELLO["contents"],
                "tools": [
                    {
                        "functionDeclarations": [
                            {
                                "name": "f",
                                "parameters": {"type": "OBJECT", "properties": {"a": {"const": 1}}},
                            }
                        ]
                    }
                ],
            },
            "tools[0].function_declarations[0].parameters.properties[0].value",
            'Invalid JSON payload received. Unknown name "const" at '
            "'tools[0].function_declarations[0].parameters.properties[0].value': "
            "Cannot find field.",
        ),
        (
            {"contents": [{"parts": [{"functionCall": {"name": "f", "args": [1]}}]}]},
            "contents[0].parts[0].function_call",
            'Invalid JSON payload received. Unknown name "args" at '
            "'contents[0].parts[0].function_call': "
            "Proto field is not repeating, cannot start list.",
        ),
    ],
    ids=["two-data-fields", "bad-base64", "schema-keyword", "list-for-struct"],
)
def test_schema_violations_name_the_field(
    client: httpx.Client, body: dict[str, Any], field: str, description: str
) -> None:
    response = client.post(GENERATE, json=body)
    assert response.status_code == 400
    assert error_of(response)["details"][0]["fieldViolations"] == [
        {"field": field, "description": description}
    ]


def test_a_body_that_is_not_json_is_refused(client: httpx.Client) -> None:
    response = client.post(
        GENERATE, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["message"].startswith("Invalid JSON payload received.")


# --- Gemini's own rules --------------------------------------------------------------------

CALL = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
RESPONSE = {"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}}}


def turns(*contents: tuple[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"contents": [{"role": role, "parts": parts} for role, parts in contents]}


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        (MODEL, {"contents": []}, "* GenerateContentRequest.contents: contents is not specified\n"),
        (
            MODEL,
            turns(("user", [])),
            "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n",
        ),
        (
            MODEL,
            turns(("user", [{"thought": True}])),
            "* GenerateContentRequest.contents[0].parts[0].data: required oneof field 'data' "
            "must have one initialized field\n",
        ),
        (MODEL, turns(("assistant", [{"text": "hi"}])), "Please use a valid role: user, model."),
        (
            MODEL,
            turns(("user", [{"text": ""}])),
            "Unable to submit request because it has an empty text parameter",
        ),
        (
            MODEL,
            turns(("user", [{"text": "weather?"}]), ("model", [CALL, CALL]), ("user", [RESPONSE])),
            "Please ensure that the number of function response parts is equal to the number of "
            "function call parts of the function call turn.",
        ),
        (
            MODEL,
            turns(
                ("user", [{"text": "weather?"}]), ("model", [{"text": "ok"}]), ("user", [RESPONSE])
            ),
            "Please ensure that function response turn comes immediately after a function "
            "call turn.",
        ),
        (
            MODEL,
            turns(("model", [CALL]), ("user", [RESPONSE])),
            "Please ensure that function call turn comes immediately after a user turn or after a "
            "function response turn.",
        ),
        (
            MODEL,
            {**HELLO, "generationConfig": {"stopSequences": ["a", "b", "c", "d", "e", "f"]}},
            "Unable to submit request because it has a stopSequences value of 6",
        ),
        (
            "gemini-2.5-pro",
            {**HELLO, "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}},
            "Budget 0 is invalid. This model only works in thinking mode.",
        ),
        (
            "gemini-3-pro-preview",
            turns(("user", [{"text": "weather?"}]), ("model", [CALL]), ("user", [RESPONSE])),
            "Function call is missing a thought_signature in functionCall parts.",
        ),
        (
            MODEL,
            {**HELLO, "tools": [{"functionDeclarations": [{"name": "1st-tool"}]}]},
            "* GenerateContentRequest.tools[0].function_declarations[0].name: "
            "Invalid function name.",
        ),
    ],
    ids=[
        "no-contents",
        "no-parts",
        "no-data",
        "bad-role",
        "empty-text",
        "response-count",
        "response-order",
        "call-order",
        "stop-sequences",
        "budget-zero-pro",
        "gemini-3-signature",
        "function-name",
    ],
)
def test_gemini_rules_are_400_invalid_argument(
    client: httpx.Client, model: str, body: dict[str, Any], message: str
) -> None:
    response = client.post(f"/v1beta/models/{model}:generateContent", json=body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"].startswith(message)


def test_the_same_conversations_pass_when_well_formed(client: httpx.Client) -> None:
    signed_call = {**CALL, "thoughtSignature": fake_signature("call")}
    body = turns(
        ("user", [{"text": "weather?"}]),
        ("model", [signed_call, CALL]),
        ("user", [RESPONSE, RESPONSE]),
        ("model", [{"text": "", "thoughtSignature": fake_signature("end")}]),
        ("user", [{"text": "thanks"}]),
    )
    response = client.post("/v1beta/models/gemini-3-pro-preview:generateContent", json=body)
    assert response.status_code == 200, response.text


GIF = {"inlineData": {"mimeType": "image/gif", "data": "R0lGODlh"}}
PNG = {"inlineData": {"mimeType": "image/png", "data": "iVBORw0K"}}
GEMINI_3 = "gemini-3-pro-preview"


def step(signature: str) -> dict[str, Any]:
    """A finished tool loop whose one function call carries `signature`."""
    return turns(
        ("user", [{"text": "weather?"}]),
        ("model", [{**CALL, "thoughtSignature": signature}]),
        ("user", [RESPONSE]),
    )


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        (
            MODEL,
            turns(("user", [GIF, {"text": "what is it?"}])),
            "Unsupported MIME type: image/gif",
        ),
        (
            MODEL,
            turns(("user", [{"fileData": {"mimeType": "image/bmp", "fileUri": "https://x/a"}}])),
            "Unsupported MIME type: image/bmp",
        ),
        (
            MODEL,
            {**HELLO, "tools": [{"functionDeclarations": [{"name": "x" * 65}]}]},
            "* GenerateContentRequest.tools[0].function_declarations[0].name: "
            "Invalid function name.",
        ),
        (
            MODEL,
            {**HELLO, "tools": [{"functionDeclarations": [{"name": "mcp/github"}]}]},
            "* GenerateContentRequest.tools[0].function_declarations[0].name: "
            "Invalid function name.",
        ),
        (GEMINI_3, step("c2lnbmVkIGJ5IHNvbWVvbmUgZWxzZQ=="), "Corrupted thought signature."),
        (
            GEMINI_3,
            step("EqQBCkgIARABGAIiQLZ1r+/7Qk9bc3mZ0dGVzdA=="),
            "Corrupted thought signature.",
        ),
        (
            GEMINI_3,
            step(family_signature("gemini-2.5-flash", "call")),
            "Corrupted thought signature.",
        ),
        (
            MODEL,
            {**HELLO, "generationConfig": {"responseJsonSchema": {"type": "object"}}},
            "Unable to submit request because responseJsonSchema requires responseMimeType",
        ),
        (
            MODEL,
            {
                **HELLO,
                "tools": [{"functionDeclarations": [{"name": "get_weather"}]}],
                "generationConfig": {"responseMimeType": "application/json"},
            },
            "Tool use with a response mime type: 'application/json' is unsupported",
        ),
    ],
    ids=[
        "gif",
        "bmp-file",
        "name-too-long",
        "name-with-slash",
        "foreign-signature",
        "anthropic-signature",
        "other-family-signature",
        "schema-without-json",
        "tools-with-json",
    ],
)
def test_newer_gemini_rules_are_400_invalid_argument(
    client: httpx.Client, model: str, body: dict[str, Any], message: str
) -> None:
    response = client.post(f"/v1beta/models/{model}:generateContent", json=body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"].startswith(message)


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (MODEL, turns(("user", [PNG, {"text": "what is it?"}]))),
        (GEMINI_3, step("skip_thought_signature_validator")),
        (GEMINI_3, step("context_engineering_is_the_way_to_go")),
        (GEMINI_3, step(family_signature("gemini-3-pro-preview", "call"))),
        (GEMINI_3, step(family_signature("gemini-3-pro", "call"))),  # same family
        # Gemini 2.5 does not verify signatures; it never answers "Corrupted".
        (MODEL, step(family_signature(GEMINI_3, "call"))),
        (
            MODEL,
            {
                **HELLO,
                "generationConfig": {
                    "responseMimeType": "application/json",
                    "responseJsonSchema": {"type": "object"},
                },
            },
        ),
        (
            GEMINI_3,
            {
                **HELLO,
                "tools": [{"functionDeclarations": [{"name": "get_weather"}]}],
                "generationConfig": {"responseMimeType": "application/json"},
            },
        ),
    ],
    ids=[
        "png",
        "bypass",
        "other-bypass",
        "own-signature",
        "family-signature",
        "2.5-unverified",
        "json-schema",
        "gemini-3-tools-with-json",
    ],
)
def test_what_gemini_takes_passes(client: httpx.Client, model: str, body: dict[str, Any]) -> None:
    response = client.post(f"/v1beta/models/{model}:generateContent", json=body)
    assert response.status_code == 200, response.text


def test_an_unknown_model_is_404_not_found(client: httpx.Client) -> None:
    response = client.post("/v1beta/models/gpt-4o:generateContent", json=HELLO)
    assert response.status_code == 404
    error = error_of(response)
    assert error["status"] == "NOT_FOUND"
    assert error["message"].startswith("models/gpt-4o is not found for API version v1beta")


# --- streaming and merged answers ----------------------------------------------------------


def test_a_streamed_answer_arrives_as_separate_sse_events(
    fake: FakeGemini, client: httpx.Client
) -> None:
    fake.enqueue(
        replace(
            text_answer("one two three four five six", chunks=3), timing=Timing(between_chunks=0.05)
        )
    )
    reads: list[bytes] = []
    with client.stream("POST", STREAM, params={"alt": "sse"}, json=HELLO) as response:
        assert response.headers["content-type"] == "text/event-stream"
        reads.extend(response.iter_raw())
    # Each network read is one whole event: the chunks were flushed one by one.
    assert len(reads) == 3
    assert all(read.startswith(b"data: {") and read.endswith(b"}\r\n\r\n") for read in reads)
    events = [orjson.loads(read[len(b"data: ") :]) for read in reads]
    for event in events:
        parses_as_response(event)
    assert ["".join(p["text"] for p in e["candidates"][0]["content"]["parts"]) for e in events] == [
        "one two ",
        "three four ",
        "five six",
    ]
    assert [e["candidates"][0].get("finishReason") for e in events] == [None, None, "STOP"]
    assert [e["usageMetadata"]["candidatesTokenCount"] for e in events] == [2, 4, 6]
    assert events[-1]["usageMetadata"] == {
        "promptTokenCount": 4,
        "candidatesTokenCount": 6,
        "totalTokenCount": 10,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 4}],
    }
    assert {e["responseId"] for e in events} == {"fake-000001"}
    assert {e["modelVersion"] for e in events} == {MODEL}


def test_the_same_answer_unstreamed_is_merged(fake: FakeGemini, client: httpx.Client) -> None:
    scripted = text_answer(
        "one two three four",
        chunks=2,
        thinking=["Let me ", "think."],
        thinking_signature=fake_signature("thought"),
    )
    fake.enqueue(scripted, scripted)
    events = stream_events(client)
    merged = client.post(GENERATE, json=HELLO).json()
    parses_as_response(merged)
    assert merged["candidates"][0]["content"] == {
        "parts": [
            {
                "text": "Let me think.",
                "thought": True,
                "thoughtSignature": fake_signature("thought"),
            },
            {"text": "one two three four"},
        ],
        "role": "model",
    }
    assert merged["candidates"][0]["finishReason"] == "STOP"
    assert merged["usageMetadata"] == events[-1]["usageMetadata"]
    assert merged["usageMetadata"]["thoughtsTokenCount"] == 3
    # A thinking-only chunk has no candidatesTokenCount at all: proto3 JSON drops zeros.
    assert "candidatesTokenCount" not in events[0]["usageMetadata"]


def test_parallel_calls_to_one_function_sign_only_the_first(
    fake: FakeGemini, client: httpx.Client
) -> None:
    scripted = tool_call_answer(
        function_call("get_weather", {"city": "Paris"}),
        function_call("get_weather", {"city": "Rome"}),
        preamble="Checking both.",
    )
    fake.enqueue(scripted, scripted)
    events = stream_events(client)
    assert len(events) == 2
    calls = events[1]["candidates"][0]["content"]["parts"]
    assert calls == [
        {
            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
            "thoughtSignature": fake_signature("call:get_weather"),
        },
        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
    ]
    assert events[1]["candidates"][0]["finishReason"] == "STOP"
    merged = client.post(GENERATE, json=HELLO).json()
    assert merged["candidates"][0]["content"]["parts"] == [{"text": "Checking both."}, *calls]


def test_a_signature_in_a_trailing_empty_part_merges_onto_the_text(
    fake: FakeGemini, client: httpx.Client
) -> None:
    scripted = answer(text("Hello "), text("world"), text("", signature=fake_signature("end")))
    fake.enqueue(scripted, scripted)
    assert len(stream_events(client)) == 3
    parts = client.post(GENERATE, json=HELLO).json()["candidates"][0]["content"]["parts"]
    assert parts == [{"text": "Hello world", "thoughtSignature": fake_signature("end")}]


@pytest.mark.parametrize(
    "scripted",
    [
        max_tokens_answer("cut short here", chunks=2),
        safety_answer("partial"),
        recitation_answer(),
        malformed_function_call_answer(),
        blocked_prompt(),
        tool_call_answer(function_call("f", id="call-1"), thinking="hmm", one_chunk=False),
        answer(thought("a", signature=fake_signature("t")), text("b"), usage=Usage(cached=3)),
    ],
    ids=["max-tokens", "safety", "recitation", "malformed-call", "blocked", "calls", "cached"],
)
@pytest.mark.parametrize("streamed", [True, False], ids=["stream", "merged"])
def test_every_builder_answers_valid_gemini_responses(
    fake: FakeGemini, client: httpx.Client, scripted: Answer, streamed: bool
) -> None:
    fake.enqueue(scripted)
    bodies = stream_events(client) if streamed else [client.post(GENERATE, json=HELLO).json()]
    for body in bodies:
        parses_as_response(body)
    last = bodies[-1]
    if scripted.prompt_feedback:
        assert "candidates" not in last
        assert last["promptFeedback"]["blockReason"] == "SAFETY"
    else:
        assert last["candidates"][0].get("finishReason") == scripted.finish_reason


def test_a_finish_reason_comes_with_its_details(fake: FakeGemini, client: httpx.Client) -> None:
    fake.enqueue(safety_answer(), malformed_function_call_answer())
    candidate = client.post(GENERATE, json=HELLO).json()["candidates"][0]
    assert "content" not in candidate
    assert {
        "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
        "probability": "HIGH",
        "blocked": True,
    } in (candidate["safetyRatings"])
    candidate = client.post(GENERATE, json=HELLO).json()["candidates"][0]
    assert candidate["finishMessage"].startswith("Malformed function call: ")


def test_without_alt_sse_the_stream_is_one_json_array(
    fake: FakeGemini, client: httpx.Client
) -> None:
    fake.enqueue(text_answer("a b c", chunks=3))
    response = client.post(STREAM, json=HELLO)
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert len(response.json()) == 3


def test_scripts_run_in_order_then_the_default_answer(
    fake: FakeGemini, client: httpx.Client
) -> None:
    def echo(request: RecordedRequest) -> Answer:
        return text_answer("echo: " + request.json["contents"][0]["parts"][0]["text"])

    fake.enqueue(echo, overloaded())
    assert client.post(GENERATE, json=HELLO).json()["candidates"][0]["content"]["parts"] == [
        {"text": "echo: Say hello to me"}
    ]
    assert client.post(GENERATE, json=HELLO).status_code == 503
    assert fake.pending == 0
    default = client.post(GENERATE, json=HELLO).json()
    assert default["candidates"][0]["content"]["parts"] == [{"text": "Hello from the fake Gemini."}]


def test_split_words_gives_the_text_back() -> None:
    value = "a  spaced   sentence of words"
    for pieces in range(1, 8):
        assert "".join(split_words(value, pieces)) == value


# --- errors, broken answers, slow and cut streams --------------------------------------------


def test_rate_limits_carry_retry_info_and_quota_failure(
    fake: FakeGemini, client: httpx.Client
) -> None:
    fake.enqueue(rate_limited(retry_delay="17s"))
    response = client.post(STREAM, params={"alt": "sse"}, json=HELLO)
    assert response.status_code == 429
    error = error_of(response)
    assert error["status"] == "RESOURCE_EXHAUSTED"
    kinds = {detail["@type"].rsplit(".", 1)[1]: detail for detail in error["details"]}
    assert kinds["RetryInfo"]["retryDelay"] == "17s"
    assert kinds["QuotaFailure"]["violations"][0]["quotaMetric"].startswith("generativelanguage")


@pytest.mark.parametrize(
    ("reply", "status", "grpc_status"),
    [
        (internal_error(), 500, "INTERNAL"),
        (overloaded(), 503, "UNAVAILABLE"),
        (model_not_found("gemini-9"), 404, "NOT_FOUND"),
    ],
)
def test_error_replies_have_googles_shape(
    fake: FakeGemini, client: httpx.Client, reply: HttpReply, status: int, grpc_status: str
) -> None:
    fake.enqueue(reply)
    response = client.post(GENERATE, json=HELLO)
    assert response.status_code == status
    assert error_of(response)["status"] == grpc_status


def test_broken_answers_are_sent_verbatim(fake: FakeGemini, client: httpx.Client) -> None:
    fake.enqueue(bad_gateway_html(), invalid_json(), wrong_content_type())
    html = client.post(STREAM, params={"alt": "sse"}, json=HELLO)
    assert (html.status_code, html.headers["content-type"]) == (502, "text/html; charset=UTF-8")
    assert html.text.startswith("<!DOCTYPE html>")
    broken = client.post(GENERATE, json=HELLO)
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    mislabelled = client.post(GENERATE, json=HELLO)
    assert mislabelled.headers["content-type"] == "text/html; charset=UTF-8"


@pytest.mark.parametrize(
    ("cut", "whole_events", "tail"),
    [(Cut(1), 1, b""), (Cut(2, mid_event=True), 2, b"data: {")],
    ids=["between-events", "mid-event"],
)
def test_a_cut_stream_really_cuts(
    fake: FakeGemini, client: httpx.Client, cut: Cut, whole_events: int, tail: bytes
) -> None:
    fake.enqueue(replace(text_answer("a b c d", chunks=4), cut=cut))
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"),
        client.stream("POST", STREAM, params={"alt": "sse"}, json=HELLO) as response,
    ):
        for raw in response.iter_raw():
            received += raw
    events = received.split(b"\r\n\r\n")
    assert len(events) == whole_events + 1
    assert events[-1].startswith(tail) and b"finishReason" not in received
    if tail:
        assert not events[-1].endswith(b"}")


def test_a_reset_stream_is_a_read_error(fake: FakeGemini, client: httpx.Client) -> None:
    fake.enqueue(replace(text_answer("a b c", chunks=3), cut=Cut(1, reset=True)))
    with (
        pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)),
        client.stream("POST", STREAM, params={"alt": "sse"}, json=HELLO) as response,
    ):
        for _ in response.iter_raw():
            pass


def test_a_cut_unstreamed_answer_stops_mid_body(fake: FakeGemini, client: httpx.Client) -> None:
    fake.enqueue(replace(text_answer("a b c"), cut=Cut(0)))
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(GENERATE, json=HELLO)


def test_an_error_event_can_end_a_stream(fake: FakeGemini, client: httpx.Client) -> None:
    scripted = replace(text_answer("a b c", chunks=3), stream_error=mid_stream_error(1))
    fake.enqueue(scripted, scripted)
    events = stream_events(client)
    assert len(events) == 2
    assert events[1]["error"]["status"] == "INTERNAL"
    assert client.post(GENERATE, json=HELLO).status_code == 500


def test_slow_streams_wait_where_told(fake: FakeGemini, client: httpx.Client) -> None:
    slow = Timing(before_headers=0.2, before_first_chunk=0.2, between_chunks=0.1)
    fake.enqueue(replace(text_answer("a b", chunks=2), timing=slow))
    began = time.perf_counter()
    with client.stream("POST", STREAM, params={"alt": "sse"}, json=HELLO) as response:
        headers_at = time.perf_counter() - began
        arrivals = [time.perf_counter() - began for _ in response.iter_raw()]
    assert 0.2 <= headers_at < 0.35
    assert arrivals[0] >= 0.4 and arrivals[1] - arrivals[0] >= 0.09


@pytest.mark.parametrize("send_headers", [False, True])
def test_a_hang_lasts_until_the_client_gives_up(
    fake: FakeGemini, client: httpx.Client, send_headers: bool
) -> None:
    fake.enqueue(Hang(send_headers=send_headers))
    with pytest.raises(httpx.ReadTimeout):
        client.post(STREAM, params={"alt": "sse"}, json=HELLO, timeout=0.3)
    assert client.post(GENERATE, json=HELLO).status_code == 200  # the fake is still serving


# --- countTokens ---------------------------------------------------------------------------


def test_count_tokens_counts_words_and_media(fake: FakeGemini, client: httpx.Client) -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "three little words"}]},
            {
                "role": "user",
                "parts": [{"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}],
            },
        ]
    }
    response = client.post(f"/v1beta/models/{MODEL}:countTokens", json=body)
    assert response.status_code == 200
    assert response.json()["totalTokens"] == 3 + 258
    fake.enqueue_count_tokens(rate_limited())
    assert client.post(f"/v1beta/models/{MODEL}:countTokens", json=body).status_code == 429


def test_count_tokens_validates_its_own_schema(client: httpx.Client) -> None:
    response = client.post(f"/v1beta/models/{MODEL}:countTokens", json={**HELLO, "tools": []})
    assert response.status_code == 400
    assert 'Unknown name "tools"' in error_of(response)["message"]


def test_googles_own_client_library_reads_the_fake(fake: FakeGemini) -> None:
    """The published REST client (JSON-array streaming, `$alt` query) parses every answer."""
    from google.ai import generativelanguage_v1beta as glm
    from google.api_core.client_options import ClientOptions

    options = ClientOptions(api_endpoint=fake.base_url, api_key=fake.api_key)
    google = glm.GenerativeServiceClient(transport="rest", client_options=options)
    request = glm.GenerateContentRequest(
        model=f"models/{MODEL}",
        contents=[glm.Content(role="user", parts=[glm.Part(text="Say hello")])],
    )
    fake.enqueue(text_answer("hello there friend"), text_answer("a b c d", chunks=2))
    whole = google.generate_content(request)
    assert whole.candidates[0].content.parts[0].text == "hello there friend"
    assert whole.usage_metadata.total_token_count == 2 + 3
    chunks = list(google.stream_generate_content(request))
    assert [c.candidates[0].content.parts[0].text for c in chunks] == ["a b ", "c d"]
    assert chunks[-1].candidates[0].finish_reason == glm.Candidate.FinishReason.STOP
    assert [r.status for r in fake.requests] == [200, 200]
