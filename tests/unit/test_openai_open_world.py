"""The open-world request on OpenAI: every field, block and tool type translated or refused by
name (anthropic/surface.py), history from other providers accepted. Every body built is
checked by the fake OpenAI's validator, which refuses what the real API refuses."""

from __future__ import annotations

import re
from typing import Any

import pytest
from ai_proxy.anthropic.models import MessagesRequest
from ai_proxy.errors import InvalidRequest
from ai_proxy.providers.openai.call_ids import to_anthropic_tool_use_id, to_openai_call_id
from ai_proxy.providers.openai.request import to_openai_request

from tests.fakes.openai import validate_request

HI = [{"role": "user", "content": "hi"}]
ANTHROPIC_ID = re.compile(r"^[a-zA-Z0-9_-]+$")


def translate(model: str = "gpt-4o", **fields: Any) -> dict[str, Any]:
    payload = {"model": model, "max_tokens": 1024, "messages": HI, **fields}
    body = to_openai_request(MessagesRequest.model_validate(payload), model)
    validate_request(body)
    return body


def refused(model: str = "gpt-4o", **fields: Any) -> str:
    payload = {"model": model, "max_tokens": 1024, "messages": HI, **fields}
    with pytest.raises(InvalidRequest) as caught:
        to_openai_request(MessagesRequest.model_validate(payload), model)
    assert caught.value.status == 400 and caught.value.error_type == "invalid_request_error"
    message: str = caught.value.message
    assert "openai" in message
    return message


def tool(name: str, **extra: Any) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    return {"name": name, "description": f"the {name} tool", "input_schema": schema, **extra}


def function_names(body: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in body.get("tools", [])]


# --- top-level fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("container", "container_abc"),
        ("mcp_servers", [{"type": "url", "url": "https://mcp.example", "name": "x"}]),
        ("inference_geo", "us"),
        ("a_field_from_the_future", {"x": 1}),
        ("top_k", 40),
    ],
)
def test_fields_openai_cannot_carry_are_refused_by_name(field: str, value: Any) -> None:
    assert field in refused(**{field: value})


def test_advisory_fields_are_accepted_and_not_sent() -> None:
    body = translate(service_tier="auto", speed="fast", cache_control={"type": "ephemeral"})
    assert not {"service_tier", "speed", "cache_control"} & set(body)


def test_context_management_clearing_thinking_is_accepted() -> None:
    edits = {"edits": [{"type": "clear_thinking_20251015"}]}
    assert "context_management" not in translate(context_management=edits)
    other = {"edits": [{"type": "clear_tool_uses_20250919"}]}
    assert "clear_tool_uses_20250919" in refused(context_management=other)


# --- blocks carried as text ------------------------------------------------------------------


SEARCH_RESULT = {
    "type": "search_result",
    "source": "https://docs.example/rates",
    "title": "Rate limits",
    "content": [{"type": "text", "text": "1000 requests per minute."}],
}


def test_search_result_becomes_text_with_title_and_source() -> None:
    body = translate(
        messages=[{"role": "user", "content": [SEARCH_RESULT, {"type": "text", "text": "ok?"}]}]
    )
    first = body["messages"][0]["content"][0]
    assert first["type"] == "text"
    assert "Rate limits" in first["text"] and "https://docs.example/rates" in first["text"]
    assert "1000 requests per minute." in first["text"]


def tool_loop(result_content: list[dict[str, Any]], **tools: Any) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "find it"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_01A", "name": "lookup", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": result_content}
            ],
        },
    ]


def test_search_result_inside_a_tool_result() -> None:
    body = translate(messages=tool_loop([SEARCH_RESULT]), tools=[tool("lookup")])
    tool_message = body["messages"][2]
    assert tool_message["role"] == "tool"
    assert "Rate limits" in tool_message["content"]
    assert "https://docs.example/rates" in tool_message["content"]


WEB_HISTORY = [
    {"role": "user", "content": "What is new in Python?"},
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me search."},
            {
                "type": "server_tool_use",
                "id": "srvtoolu_01",
                "name": "web_search",
                "input": {"query": "python 3.14 release"},
            },
            {
                "type": "web_search_tool_result",
                "tool_use_id": "srvtoolu_01",
                "content": [
                    {
                        "type": "web_search_result",
                        "title": "What's new in Python 3.14",
                        "url": "https://docs.python.org/3.14/whatsnew/3.14.html",
                        "encrypted_content": "EqgfCioIARgBIiQ3YTAwMjY1Mi1mZjM5LTQ1NGUtODgx",
                        "page_age": "2 days ago",
                    }
                ],
            },
            {
                "type": "server_tool_use",
                "id": "srvtoolu_02",
                "name": "web_fetch",
                "input": {"url": "https://peps.python.org/pep-0779/"},
            },
            {
                "type": "web_fetch_tool_result",
                "tool_use_id": "srvtoolu_02",
                "content": {
                    "type": "web_fetch_result",
                    "url": "https://peps.python.org/pep-0779/",
                    "content": {
                        "type": "document",
                        "title": "PEP 779",
                        "source": {"type": "text", "media_type": "text/plain", "data": "Free"},
                    },
                },
            },
            {"type": "text", "text": "Python 3.14 shipped."},
        ],
    },
    {"role": "user", "content": "Thanks"},
]


def test_server_tool_history_becomes_assistant_text_never_dropped() -> None:
    body = translate(messages=WEB_HISTORY)
    assistant = body["messages"][1]
    assert assistant["role"] == "assistant" and "tool_calls" not in assistant
    text = "\n".join(part["text"] for part in assistant["content"])
    for expected in (
        "Let me search.",
        "python 3.14 release",
        "What's new in Python 3.14",
        "https://docs.python.org/3.14/whatsnew/3.14.html",
        "https://peps.python.org/pep-0779/",
        "PEP 779",
        "Python 3.14 shipped.",
    ):
        assert expected in text
    assert "EqgfCioIARgBIiQ" not in text  # Anthropic's encrypted copy means nothing elsewhere


def test_server_tool_errors_become_text() -> None:
    history = [
        *HI,
        {
            "role": "assistant",
            "content": [
                {
                    "type": "web_search_tool_result",
                    "tool_use_id": "srvtoolu_1",
                    "content": {
                        "type": "web_search_tool_result_error",
                        "error_code": "max_uses_exceeded",
                    },
                }
            ],
        },
        {"role": "user", "content": "and?"},
    ]
    assert "max_uses_exceeded" in translate(messages=history)["messages"][1]["content"]


# --- tool search -----------------------------------------------------------------------------


def test_tool_reference_is_text_and_its_deferred_tool_is_declared() -> None:
    tools = [
        tool("lookup"),
        tool("WebFetch", defer_loading=True),
        tool("NotebookEdit", defer_loading=True),
    ]
    messages = tool_loop([{"type": "tool_reference", "tool_name": "WebFetch"}])
    body = translate(messages=messages, tools=tools)
    assert body["messages"][2]["content"] == "Tool 'WebFetch' is now available; call it directly."
    assert function_names(body) == ["lookup", "WebFetch"]


def test_tool_search_server_tools_are_not_declared_every_deferred_tool_is() -> None:
    tools = [
        {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"},
        {"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"},
        tool("Read"),
        tool("WebFetch", defer_loading=True),
        tool("NotebookEdit", defer_loading=True),
    ]
    assert function_names(translate(tools=tools)) == ["Read", "WebFetch", "NotebookEdit"]


# --- server tools and unknown types ----------------------------------------------------------


@pytest.mark.parametrize(
    "server_tool",
    [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
        {"type": "web_search_20260209", "name": "web_search"},
        {"type": "web_fetch_20250910", "name": "web_fetch"},
        {"type": "bash_20250124", "name": "bash"},
        {"type": "code_execution_20250825", "name": "code_execution"},
        {"type": "a_tool_type_from_the_future_20270101", "name": "future"},
    ],
)
def test_server_tools_are_refused_naming_the_tool(server_tool: dict[str, Any]) -> None:
    message = refused(tools=[tool("Read"), server_tool])
    assert server_tool["name"] in message and server_tool["type"] in message


def test_unknown_blocks_are_refused_by_name() -> None:
    future = {"type": "hologram", "data": "..."}
    assert "hologram" in refused(messages=[{"role": "user", "content": [future]}])
    assert "hologram" in refused(messages=tool_loop([future]), tools=[tool("lookup")])
    container = {"type": "container_upload", "file_id": "file_1"}
    assert "container_upload" in refused(messages=[{"role": "user", "content": [container]}])


# --- empty text ------------------------------------------------------------------------------


def test_empty_and_whitespace_only_text_never_reaches_openai() -> None:
    messages = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "  \n"}, {"type": "text", "text": "hi"}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "\n\n"}]},
        {"role": "assistant", "content": " "},
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "go"}]},
    ]
    body = translate(messages=messages, system=[{"type": "text", "text": " "}])
    assert body["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "user", "content": "go"},
    ]


# --- tool ids across providers ---------------------------------------------------------------


def test_openai_call_ids_reach_the_client_shaped_like_anthropics_and_go_back_unchanged() -> None:
    for call_id in ("call_Dn2RJJSxzDm49vlVTehseJ0k", "call_0", "x" * 40):
        shown = to_anthropic_tool_use_id(call_id)
        assert shown.startswith("toolu_") and ANTHROPIC_ID.match(shown)
        assert to_openai_call_id(shown) == call_id
    # Ids Anthropic would refuse, or none at all, get a fresh Anthropic id.
    for odd in ("call:1/2", None, ""):
        assert ANTHROPIC_ID.match(to_anthropic_tool_use_id(odd))


def test_a_history_with_anthropic_and_openai_ids_works_on_openai() -> None:
    anthropic_id, ours, long_id = "toolu_01XFDUDYJgAACzvnptvVoYEL", "toolu_oai_call_7", "t" * 64
    calls = [
        {"type": "tool_use", "id": call_id, "name": "lookup", "input": {}}
        for call_id in (anthropic_id, ours, long_id)
    ]
    results = [
        {"type": "tool_result", "tool_use_id": call_id, "content": "ok"}
        for call_id in (anthropic_id, ours, long_id)
    ]
    messages = [*HI, {"role": "assistant", "content": calls}, {"role": "user", "content": results}]
    body = translate(messages=messages, tools=[tool("lookup")])
    sent_ids = [call["id"] for call in body["messages"][1]["tool_calls"]]
    assert sent_ids[:2] == [anthropic_id, "call_7"]
    assert len(sent_ids[2]) <= 40
    assert [m["tool_call_id"] for m in body["messages"][2:]] == sent_ids
