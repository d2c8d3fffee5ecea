"""Anthropic request -> Gemini GenerateContentRequest: one test per translation rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ai_proxy.anthropic.models import MessagesRequest
from ai_proxy.errors import InvalidRequest
from ai_proxy.providers.gemini.request import to_gemini_request
from google.ai.generativelanguage_v1beta.types import generative_service
from google.protobuf import json_format

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def translate(model: str = "gemini-2.5-flash", **fields: Any) -> dict[str, Any]:
    body = {"model": model, "max_tokens": 100, **fields}
    result = to_gemini_request(MessagesRequest.model_validate(body), model)
    # Every request we build must parse as Gemini's published v1beta request type.
    json_format.ParseDict(result, generative_service.GenerateContentRequest.pb()())
    return result


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


def test_system_string_and_blocks_become_system_instruction() -> None:
    assert translate(system="Be brief.", messages=[user("Hi")])["systemInstruction"] == {
        "parts": [{"text": "Be brief."}]
    }
    blocks = [
        {"type": "text", "text": "A"},
        {"type": "text", "text": ""},
        {"type": "text", "text": "B"},
    ]
    body = translate(system=blocks, messages=[user("Hi")])
    assert body["systemInstruction"] == {"parts": [{"text": "A"}, {"text": "B"}]}


def test_mid_conversation_system_message_joins_system_instruction() -> None:
    body = translate(
        system="S1", messages=[user("Hi"), {"role": "system", "content": "S2"}, user("Again")]
    )
    assert body["systemInstruction"]["parts"] == [{"text": "S1"}, {"text": "S2"}]
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hi"}, {"text": "Again"}]}]


def test_roles_map_and_consecutive_turns_merge() -> None:
    body = translate(messages=[user("a"), user("b"), assistant("c"), assistant("d"), user("e")])
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "model", "parts": [{"text": "c"}, {"text": "d"}]},
        {"role": "user", "parts": [{"text": "e"}]},
    ]


def test_empty_text_is_never_sent() -> None:
    body = translate(
        messages=[
            user([{"type": "text", "text": ""}, {"type": "text", "text": "x"}]),
            assistant(""),
            user("y"),
        ]
    )
    assert body["contents"] == [{"role": "user", "parts": [{"text": "x"}, {"text": "y"}]}]


def test_all_empty_messages_is_a_client_error() -> None:
    with pytest.raises(InvalidRequest, match="empty"):
        translate(messages=[user("")])


def test_images_and_pdf_documents() -> None:
    content = [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw=="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.webp?x=1"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERg=="},
        },
        {"type": "document", "source": {"type": "url", "url": "https://example.com/paper"}},
        {
            "type": "document",
            "title": "Notes",
            "source": {"type": "text", "media_type": "text/plain", "data": "hello"},
        },
    ]
    parts = translate(messages=[user(content)])["contents"][0]["parts"]
    assert parts == [
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp?x=1"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERg=="}},
        {"fileData": {"mimeType": "application/pdf", "fileUri": "https://example.com/paper"}},
        {"text": "Notes\n\nhello"},
    ]


def test_files_api_sources_are_refused_by_name() -> None:
    with pytest.raises(InvalidRequest, match="'file'"):
        translate(messages=[user([{"type": "image", "source": {"type": "file", "file_id": "f1"}}])])


TOOLS = [
    {
        "name": "Bash",
        "description": "Run a command",
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
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
    },
]


def test_tools_use_full_json_schema() -> None:
    body = translate(messages=[user("hi")], tools=TOOLS)
    declarations = body["tools"][0]["functionDeclarations"]
    assert declarations[0] == {
        "name": "Bash",
        "description": "Run a command",
        "parametersJsonSchema": {
            "type": "object",
            "properties": {"command": {"type": "string"}, "timeout": {"type": "number"}},
            "required": ["command"],
            "additionalProperties": False,
        },
    }
    assert declarations[1]["name"] == "Read" and "description" not in declarations[1]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, {"mode": "AUTO"}),
        ({"type": "any"}, {"mode": "ANY"}),
        ({"type": "none"}, {"mode": "NONE"}),
        ({"type": "tool", "name": "Read"}, {"mode": "ANY", "allowedFunctionNames": ["Read"]}),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: dict[str, Any]) -> None:
    body = translate(messages=[user("hi")], tools=TOOLS, tool_choice=choice)
    assert body["toolConfig"] == {"functionCallingConfig": expected}


def test_server_tools_are_refused_by_name() -> None:
    tools = [{"type": "web_search_20250305", "name": "web_search"}]
    with pytest.raises(InvalidRequest, match="web_search"):
        translate(messages=[user("hi")], tools=tools)


def tool_round_trip_messages() -> list[dict[str, Any]]:
    return [
        user("list two dirs"),
        assistant(
            [
                {"type": "text", "text": "Running both."},
                {
                    "type": "tool_use",
                    "id": "toolu_a",
                    "name": "Bash",
                    "input": {"command": "ls /a"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_b",
                    "name": "Bash",
                    "input": {"command": "ls /b"},
                },
            ]
        ),
        user(
            [
                # Results listed out of call order: Gemini must still get them in call order.
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_b",
                    "content": "b-out",
                    "is_error": True,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_a",
                    "content": [
                        {"type": "text", "text": "a-out"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                        },
                    ],
                },
                {"type": "text", "text": "continue"},
            ]
        ),
    ]


def test_tool_use_and_results_round_trip_in_call_order() -> None:
    contents = translate(messages=tool_round_trip_messages(), tools=TOOLS)["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [
            {"text": "Running both."},
            {"functionCall": {"name": "Bash", "args": {"command": "ls /a"}}},
            {"functionCall": {"name": "Bash", "args": {"command": "ls /b"}}},
        ],
    }
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "Bash", "response": {"output": "a-out"}}},
        {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
        {"functionResponse": {"name": "Bash", "response": {"error": "b-out"}}},
        {"text": "continue"},
    ]


def test_tool_result_without_matching_tool_use_is_refused() -> None:
    messages = [user([{"type": "tool_result", "tool_use_id": "toolu_missing", "content": "x"}])]
    with pytest.raises(InvalidRequest, match="toolu_missing"):
        translate(messages=messages)


def test_generation_config() -> None:
    body = translate(
        messages=[user("hi")],
        temperature=0.3,
        top_p=0.9,
        top_k=40,
        stop_sequences=["END"],
        metadata={"user_id": "u1"},
    )
    assert body["generationConfig"] == {
        "maxOutputTokens": 100,
        "temperature": 0.3,
        "topP": 0.9,
        "topK": 40,
        "stopSequences": ["END"],
    }


def test_too_many_stop_sequences_is_a_clear_error() -> None:
    with pytest.raises(InvalidRequest, match="at most 5"):
        translate(messages=[user("hi")], stop_sequences=[str(i) for i in range(6)])


@pytest.mark.parametrize(
    ("model", "fields", "expected"),
    [
        (
            "gemini-2.5-flash",
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            {"thinkingBudget": 2048, "includeThoughts": True},
        ),
        (
            "gemini-2.5-flash",
            {"thinking": {"type": "enabled", "budget_tokens": 99999}},
            {"thinkingBudget": 24576, "includeThoughts": True},
        ),
        ("gemini-2.5-flash", {"thinking": {"type": "disabled"}}, {"thinkingBudget": 0}),
        ("gemini-2.5-pro", {"thinking": {"type": "disabled"}}, {"includeThoughts": False}),
        (
            "gemini-2.5-pro",
            {"thinking": {"type": "adaptive"}},
            {"thinkingBudget": -1, "includeThoughts": True},
        ),
        (
            "gemini-2.5-pro",
            {"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}},
            {"thinkingBudget": 1024, "includeThoughts": True},
        ),
        (
            "gemini-2.5-pro",
            {"output_config": {"effort": "max"}},
            {"thinkingBudget": 32768, "includeThoughts": True},
        ),
    ],
)
def test_thinking_config(model: str, fields: dict[str, Any], expected: dict[str, Any]) -> None:
    body = translate(model=model, messages=[user("hi")], **fields)
    assert body["generationConfig"]["thinkingConfig"] == expected


def test_no_thinking_field_leaves_gemini_default() -> None:
    assert "thinkingConfig" not in translate(messages=[user("hi")])["generationConfig"]


def test_gemini_signatures_return_to_their_parts_and_foreign_ones_are_dropped() -> None:
    messages = [
        user("go"),
        assistant(
            [
                {"type": "thinking", "thinking": "Let me plan.", "signature": "gemini:c2lnMQ=="},
                {"type": "thinking", "thinking": "", "signature": "gemini:c2lnMg=="},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
                {"type": "thinking", "thinking": "Claude thought", "signature": "EqQBCkYIARgC"},
                {"type": "redacted_thinking", "data": "opaque"},
            ]
        ),
        user([{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]),
    ]
    parts = translate(messages=messages, tools=TOOLS)["contents"][1]["parts"]
    assert parts == [
        {"text": "Let me plan.", "thought": True, "thoughtSignature": "c2lnMQ=="},
        {
            "functionCall": {"name": "Bash", "args": {"command": "ls"}},
            "thoughtSignature": "c2lnMg==",
        },
    ]


def test_trailing_signature_attaches_to_last_part() -> None:
    messages = [
        user("hi"),
        assistant(
            [
                {"type": "text", "text": "Hello"},
                {"type": "thinking", "thinking": "", "signature": "gemini:c2ln"},
            ]
        ),
        user("more"),
    ]
    assert translate(messages=messages)["contents"][1]["parts"] == [
        {"text": "Hello", "thoughtSignature": "c2ln"}
    ]


def test_server_tool_blocks_in_history_are_refused() -> None:
    messages = [
        user("hi"),
        assistant(
            [{"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}]
        ),
    ]
    with pytest.raises(InvalidRequest, match="server_tool_use"):
        translate(messages=messages)


def test_deferred_tools_are_not_declared() -> None:
    """Claude Code sends a `defer_loading` placeholder that must never be called."""
    tools = [*TOOLS, {"name": "DeferredToolPlaceholder", "input_schema": {}, "defer_loading": True}]
    body = translate(messages=[user("hi")], tools=tools)
    names = [d["name"] for d in body["tools"][0]["functionDeclarations"]]
    assert names == ["Bash", "Read"]


def test_claude_code_request_translates() -> None:
    """A real captured Claude Code request (adaptive thinking, effort, context_management,
    a trailing system message, cache_control everywhere) translates and passes the schema."""
    captured = json.loads((FIXTURES / "claude_code" / "request.json").read_text())
    body = to_gemini_request(MessagesRequest.model_validate(captured), "gemini-2.5-pro")
    json_format.ParseDict(body, generative_service.GenerateContentRequest.pb()())
    assert [c["role"] for c in body["contents"]] == ["user"]
    assert len(body["systemInstruction"]["parts"]) == 4  # 3 system blocks + the system message
    assert body["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": 24576,
        "includeThoughts": True,
    }
