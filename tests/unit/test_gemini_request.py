"""Anthropic request -> Gemini GenerateContentRequest: one test per translation rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ai_proxy.anthropic.models import CountTokensRequest, MessagesRequest
from ai_proxy.errors import InvalidRequest
from ai_proxy.providers.gemini.request import to_gemini_count_tokens_request, to_gemini_request
from ai_proxy.providers.tool_names import to_upstream_tool_name
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


@pytest.mark.parametrize(
    "tool",
    [
        {"type": "bash_20250124", "name": "bash"},
        {"type": "mcp_toolset", "name": "github", "mcp_server_name": "github"},
        {"type": "code_execution_20250825", "name": "code_execution"},
    ],
)
def test_server_tools_without_an_equivalent_are_refused_by_name(tool: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest, match=f"'{tool['name']}' \\(type '{tool['type']}'\\)"):
        translate(messages=[user("hi")], tools=[tool])


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
        # Effort alone sets the budget; it never makes thoughts visible.
        ("gemini-2.5-pro", {"output_config": {"effort": "max"}}, {"thinkingBudget": 32768}),
        ("gemini-2.5-pro", {"output_config": {"effort": "xhigh"}}, {"thinkingBudget": 32768}),
        ("gemini-2.5-flash", {"output_config": {"effort": "xhigh"}}, {"thinkingBudget": 24576}),
        ("gemini-2.5-flash", {"output_config": {"effort": "medium"}}, {"thinkingBudget": 8192}),
        ("gemini-3-pro-preview", {"output_config": {"effort": "high"}}, {"thinkingBudget": 24576}),
        (
            "gemini-2.5-flash",
            {"thinking": {"type": "between_tools"}},
            {"thinkingBudget": -1, "includeThoughts": True},
        ),
        # "omitted" hides the thoughts; their signatures still come back on the parts.
        (
            "gemini-2.5-pro",
            {"thinking": {"type": "adaptive", "display": "omitted"}},
            {"thinkingBudget": -1},
        ),
        (
            "gemini-2.5-flash",
            {"thinking": {"type": "enabled", "budget_tokens": 4096, "display": "omitted"}},
            {"thinkingBudget": 4096},
        ),
        (
            "gemini-2.5-flash",
            {"thinking": {"type": "adaptive", "display": "updates"}},
            {"thinkingBudget": -1, "includeThoughts": True},
        ),
        # Anthropic's floor of 1024 (a smaller budget is refused: test_request_rules.py) is
        # within every model's range.
        (
            "gemini-2.5-flash-lite",
            {"thinking": {"type": "enabled", "budget_tokens": 1024}},
            {"thinkingBudget": 1024, "includeThoughts": True},
        ),
        ("gemini-3-pro-preview", {"thinking": {"type": "disabled"}}, {"includeThoughts": False}),
    ],
)
def test_thinking_config(model: str, fields: dict[str, Any], expected: dict[str, Any]) -> None:
    body = translate(model=model, messages=[user("hi")], **fields)
    assert body["generationConfig"]["thinkingConfig"] == expected


def test_no_thinking_field_leaves_gemini_default() -> None:
    assert "thinkingConfig" not in translate(messages=[user("hi")])["generationConfig"]


def test_models_that_do_not_think_get_no_thinking_config() -> None:
    fields: dict[str, Any] = {
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "output_config": {"effort": "high"},
    }
    body = translate(model="gemini-2.0-flash", messages=[user("hi")], **fields)
    assert "thinkingConfig" not in body["generationConfig"]


def test_enabled_thinking_without_budget_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="budget_tokens"):
        translate(messages=[user("hi")], thinking={"type": "enabled"})


@pytest.mark.parametrize(
    ("model", "cap"),
    [
        ("gemini-2.5-pro", 65536),
        ("gemini-2.0-flash", 8192),
        ("gemini-3-pro-preview", 65536),
        ("gemini-9-ultra", 65536),
    ],
)
def test_max_output_tokens_is_clamped_to_the_model(model: str, cap: int) -> None:
    body = {"model": model, "max_tokens": 200000, "messages": [user("hi")]}
    config = to_gemini_request(MessagesRequest.model_validate(body), model)["generationConfig"]
    assert config["maxOutputTokens"] == cap
    assert (
        translate(model=model, messages=[user("hi")])["generationConfig"]["maxOutputTokens"] == 100
    )


def test_gemini_signatures_return_to_their_parts_and_foreign_ones_are_dropped() -> None:
    messages = [
        user("go"),
        assistant(
            [
                {
                    "type": "thinking",
                    "thinking": "Let me plan.",
                    "signature": "gemini:gemini-2.5-flash:c2lnMQ==",
                },
                {
                    "type": "thinking",
                    "thinking": "",
                    "signature": "gemini:gemini-2.5-flash:c2lnMg==",
                },
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
                {"type": "thinking", "thinking": "", "signature": "gemini:gemini-2.5-flash:c2ln"},
            ]
        ),
        user("more"),
    ]
    assert translate(messages=messages)["contents"][1]["parts"] == [
        {"text": "Hello", "thoughtSignature": "c2ln"}
    ]


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
    assert body["generationConfig"]["maxOutputTokens"] == 32000


# --- the open world: fields, blocks and tools by name ----------------------------------------


def test_fields_gemini_cannot_carry_are_refused_by_name() -> None:
    with pytest.raises(InvalidRequest, match="container: not supported on gemini"):
        translate(messages=[user("hi")], container="container_1")
    with pytest.raises(InvalidRequest, match="holo_field: this field is not supported on gemini"):
        translate(messages=[user("hi")], holo_field=1)
    # Advisory fields are accepted and leave no trace upstream.
    body = translate(messages=[user("hi")], service_tier="auto", cache_control={"type": "x"})
    assert set(body) == {"contents", "generationConfig"}


def test_count_tokens_checks_fields_too() -> None:
    request = CountTokensRequest.model_validate(
        {"model": "gemini-2.5-flash", "messages": [user("hi")], "mcp_servers": [{}]}
    )
    with pytest.raises(InvalidRequest, match="mcp_servers"):
        to_gemini_count_tokens_request(request, "gemini-2.5-flash")


def test_whitespace_only_text_is_never_a_part() -> None:
    body = translate(
        system=[{"type": "text", "text": " \n"}, {"type": "text", "text": "S"}],
        messages=[
            user([{"type": "text", "text": "  "}, {"type": "text", "text": "x"}]),
            assistant("\n\n"),
            user(" "),
            user("y"),
        ],
    )
    assert body["systemInstruction"] == {"parts": [{"text": "S"}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "x"}, {"text": "y"}]}]


def test_unknown_blocks_are_refused_by_name() -> None:
    with pytest.raises(InvalidRequest, match=r"content block type 'mcp_tool_use'.*gemini"):
        translate(messages=[user("hi"), assistant([{"type": "mcp_tool_use", "id": "x"}])])
    bad_result = {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": [{"type": "browser_state", "url": "https://x"}],
    }
    messages = [
        user("hi"),
        assistant([{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}]),
        user([bad_result]),
    ]
    with pytest.raises(InvalidRequest, match="tool_result content type 'browser_state'"):
        translate(messages=messages, tools=TOOLS)


SEARCH_RESULT = {
    "type": "search_result",
    "source": "https://docs.example.com/a",
    "title": "Doc A",
    "content": [{"type": "text", "text": "Alpha is first."}],
}


def test_search_results_become_text_with_title_and_source() -> None:
    messages = [
        user([SEARCH_RESULT, {"type": "text", "text": "Summarise"}]),
        assistant([{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}]),
        user([{"type": "tool_result", "tool_use_id": "toolu_1", "content": [SEARCH_RESULT]}]),
    ]
    contents = translate(messages=messages, tools=TOOLS)["contents"]
    top = contents[0]["parts"][0]["text"]
    assert "Doc A" in top and "https://docs.example.com/a" in top and "Alpha is first." in top
    output = contents[2]["parts"][0]["functionResponse"]["response"]["output"]
    assert "Doc A" in output and "https://docs.example.com/a" in output


def test_server_tool_history_becomes_text_never_dropped() -> None:
    messages = [
        user("news?"),
        assistant(
            [
                {
                    "type": "server_tool_use",
                    "id": "srvtoolu_1",
                    "name": "web_search",
                    "input": {"query": "gemini news"},
                },
                {
                    "type": "web_search_tool_result",
                    "tool_use_id": "srvtoolu_1",
                    "content": [
                        {
                            "type": "web_search_result",
                            "title": "Gemini 3 ships",
                            "url": "https://news.example.com/g3",
                            "encrypted_content": "abc",
                        }
                    ],
                },
                {
                    "type": "server_tool_use",
                    "id": "srvtoolu_2",
                    "name": "web_fetch",
                    "input": {"url": "https://news.example.com/g3"},
                },
                {
                    "type": "web_fetch_tool_result",
                    "tool_use_id": "srvtoolu_2",
                    "content": {
                        "type": "web_fetch_result",
                        "url": "https://news.example.com/g3",
                        "content": {
                            "type": "document",
                            "title": "Gemini 3 ships",
                            "source": {"type": "text", "media_type": "text/plain", "data": "Body"},
                        },
                    },
                },
                {"type": "text", "text": "It shipped."},
            ]
        ),
        user("thanks"),
    ]
    parts = translate(messages=messages)["contents"][1]["parts"]
    texts = [p["text"] for p in parts]
    assert len(texts) == 5
    assert "gemini news" in texts[0]
    assert "Gemini 3 ships" in texts[1] and "https://news.example.com/g3" in texts[1]
    assert "https://news.example.com/g3" in texts[2]
    assert "Body" in texts[3]
    assert texts[4] == "It shipped."


DEFERRED = [
    *TOOLS,
    {
        "name": "mcp__github__create_issue",
        "input_schema": {"type": "object"},
        "defer_loading": True,
    },
    {"name": "WebFetch", "input_schema": {"type": "object"}, "defer_loading": True},
]


def test_tool_reference_declares_the_tool_and_tells_the_model() -> None:
    messages = [
        user("file an issue"),
        assistant(
            [{"type": "tool_use", "id": "toolu_s", "name": "Read", "input": {"path": "github"}}]
        ),
        user(
            [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_s",
                    "content": [
                        {"type": "tool_reference", "tool_name": "mcp__github__create_issue"}
                    ],
                }
            ]
        ),
    ]
    body = translate(messages=messages, tools=DEFERRED)
    names = [d["name"] for d in body["tools"][0]["functionDeclarations"]]
    assert names == ["Bash", "Read", "mcp__github__create_issue"]
    output = body["contents"][2]["parts"][0]["functionResponse"]["response"]["output"]
    assert output == "Tool 'mcp__github__create_issue' is now available; call it directly."


@pytest.mark.parametrize("search", ["tool_search_tool_regex_20251119", "tool_search_tool_bm25"])
def test_tool_search_tools_are_replaced_by_every_deferred_tool(search: str) -> None:
    tools = [*DEFERRED, {"type": search, "name": "tool_search"}]
    body = translate(messages=[user("hi")], tools=tools)
    names = [d["name"] for d in body["tools"][0]["functionDeclarations"]]
    assert names == ["Bash", "Read", "mcp__github__create_issue", "WebFetch"]


# --- structured outputs ----------------------------------------------------------------------

ANSWER_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("spelling", ["output_config", "output_format"])
def test_structured_outputs_ask_gemini_for_json(spelling: str) -> None:
    fmt = {"type": "json_schema", "schema": ANSWER_SCHEMA}
    field = {"output_config": {"format": fmt}} if spelling == "output_config" else {spelling: fmt}
    config = translate(messages=[user("city?")], **field)["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == {
        k: v for k, v in ANSWER_SCHEMA.items() if k != "$schema"
    }


def test_structured_outputs_with_tools_only_where_gemini_takes_both() -> None:
    fields: dict[str, Any] = {
        "messages": [user("city?")],
        "tools": TOOLS,
        "output_config": {"format": {"type": "json_schema", "schema": ANSWER_SCHEMA}},
    }
    with pytest.raises(InvalidRequest, match=r"output_config\.format.*tools"):
        translate(model="gemini-2.5-flash", **fields)
    config = translate(model="gemini-3-pro-preview", **fields)["generationConfig"]
    assert config["responseMimeType"] == "application/json"


def test_strict_tools_need_nothing_more() -> None:
    tools = [{**TOOLS[1], "strict": True}]
    declaration = translate(messages=[user("hi")], tools=tools)["tools"][0]["functionDeclarations"]
    assert declaration == [
        {
            "name": "Read",
            "parametersJsonSchema": TOOLS[1]["input_schema"],
        }
    ]


# --- names, signatures, images -----------------------------------------------------------------

LONG_NAME = "mcp__" + "very_long_server_name_" * 3 + "__create_pull_request"
DIGIT_NAME = "2fa_generate_code"


def test_tool_names_gemini_refuses_are_mapped_everywhere() -> None:
    tools = [
        {"name": LONG_NAME, "input_schema": {"type": "object"}},
        {"name": DIGIT_NAME, "input_schema": {"type": "object"}},
    ]
    messages = [
        user("go"),
        assistant(
            [
                {"type": "tool_use", "id": "toolu_1", "name": LONG_NAME, "input": {}},
                {"type": "tool_use", "id": "toolu_2", "name": DIGIT_NAME, "input": {}},
            ]
        ),
        user(
            [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "123456"},
            ]
        ),
    ]
    body = translate(
        messages=messages, tools=tools, tool_choice={"type": "tool", "name": LONG_NAME}
    )
    long_upstream, digit_upstream = (to_upstream_tool_name(n) for n in (LONG_NAME, DIGIT_NAME))
    assert len(long_upstream) <= 64 and digit_upstream[0].isalpha()
    declared = [d["name"] for d in body["tools"][0]["functionDeclarations"]]
    assert declared == [long_upstream, digit_upstream]
    calls = [p["functionCall"]["name"] for p in body["contents"][1]["parts"]]
    assert calls == [long_upstream, digit_upstream]
    answers = [p["functionResponse"]["name"] for p in body["contents"][2]["parts"]]
    assert answers == [long_upstream, digit_upstream]
    allowed = body["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"]
    assert allowed == [long_upstream]


def loop(*steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A user question, then (assistant step, its tool results) for each step."""
    messages: list[dict[str, Any]] = [user("start")]
    for number, step in enumerate(steps):
        messages.append(assistant(step))
        ids = [b["id"] for b in step if b["type"] == "tool_use"]
        messages.append(
            user([{"type": "tool_result", "tool_use_id": i, "content": f"r{number}"} for i in ids])
        )
    return messages


def call(tool_id: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": "Bash", "input": {"command": "ls"}}


def signed(signature: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": "", "signature": signature}


def signatures(body: dict[str, Any]) -> list[list[str | None]]:
    return [
        [p.get("thoughtSignature") for p in c["parts"] if "functionCall" in p]
        for c in body["contents"]
        if c["role"] == "model"
    ]


def test_gemini_3_current_turn_gets_the_bypass_for_unsigned_calls() -> None:
    older = [user("old question"), assistant([call("toolu_0")])]
    older.append(user([{"type": "tool_result", "tool_use_id": "toolu_0", "content": "x"}]))
    older.append(assistant("old answer"))
    messages = older + loop(
        [call("toolu_1"), call("toolu_2")],  # another provider's parallel calls
        [signed("gemini:gemini-3-pro:c2lnMQ=="), call("toolu_3")],  # Gemini 3's own
        [signed("gemini:gemini-2.5-flash:c2lnMg=="), call("toolu_4")],  # another family's
        [signed("gemini:c2lnMw=="), call("toolu_5")],  # before families were recorded
    )
    body = translate(model="gemini-3-pro-preview", messages=messages, tools=TOOLS)
    bypass = "skip_thought_signature_validator"
    assert signatures(body) == [
        [None],  # an older turn: Gemini does not check it
        [],  # its answer
        [bypass, None],  # the first call of each step carries the step's signature
        ["c2lnMQ=="],
        [bypass],
        [bypass],
    ]


def test_signatures_go_back_only_to_the_family_that_issued_them() -> None:
    messages = loop([signed("gemini:gemini-2.5-flash:c2ln"), call("toolu_1")])
    flash = translate(model="gemini-2.5-flash-preview-09-2025", messages=messages, tools=TOOLS)
    assert signatures(flash) == [["c2ln"]]
    pro = translate(model="gemini-2.5-pro", messages=messages, tools=TOOLS)
    assert signatures(pro) == [[None]]  # 2.5 needs none, and a wrong one would be a 400
    old = translate(model="gemini-2.5-flash", messages=loop([signed("gemini:c2ln"), call("t")]))
    assert signatures(old) == [[None]]


def test_a_non_gemini_3_model_never_gets_the_bypass() -> None:
    body = translate(model="gemini-2.5-flash", messages=loop([call("toolu_1")]), tools=TOOLS)
    assert signatures(body) == [[None]]


def image(media_type: str) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": "R0lG"}}


def test_images_gemini_refuses_become_a_note() -> None:
    messages = [
        user(
            [
                image("image/gif"),
                image("image/jpg"),
                {"type": "image", "source": {"type": "url", "url": "https://x.example/a.bmp"}},
                {"type": "text", "text": "what are these?"},
            ]
        ),
        assistant([{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}]),
        user(
            [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "a.gif"}, image("image/gif")],
                }
            ]
        ),
    ]
    contents = translate(messages=messages, tools=TOOLS)["contents"]
    assert contents[0]["parts"] == [
        {"text": "[image omitted: Gemini does not accept image/gif]"},
        {"inlineData": {"mimeType": "image/jpeg", "data": "R0lG"}},
        {"text": "[image omitted: Gemini does not accept image/bmp]"},
        {"text": "what are these?"},
    ]
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "Read", "response": {"output": "a.gif"}}},
        {"text": "[image omitted: Gemini does not accept image/gif]"},
    ]


def test_documents_made_of_blocks_become_their_parts() -> None:
    document = {
        "type": "document",
        "source": {
            "type": "content",
            "content": [{"type": "text", "text": "chapter one"}, image("image/png")],
        },
    }
    parts = translate(messages=[user([document])])["contents"][0]["parts"]
    assert parts == [
        {"text": "chapter one"},
        {"inlineData": {"mimeType": "image/png", "data": "R0lG"}},
    ]
