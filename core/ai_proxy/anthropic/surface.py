"""Every name of the Messages API this gateway knows, and what each translating provider does
with it: translate it, drop it (only where Anthropic documents it as advisory), or refuse it
with a 400 that names it. The Anthropic pass-through forwards all of them but the sampling
parameters (its current API has none), and names it has never heard of, untouched.

This table is the single source for three things: the field check every translating provider
runs (`check_request_fields`), the README's translation tables, and the test that compares it
with the installed `anthropic` SDK's request types, so a name Anthropic adds shows up as a
failing test here rather than as a user's 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..errors import InvalidRequest


class Handling(Enum):
    TRANSLATED = "translated"
    ADVISORY = "dropped (advisory)"
    REFUSED = "refused (400)"


T, A, R = Handling.TRANSLATED, Handling.ADVISORY, Handling.REFUSED


@dataclass(frozen=True, slots=True)
class Entry:
    gemini: Handling
    openai: Handling
    note: str = ""
    anthropic: str = "forwarded"  # what the pass-through does (providers/anthropic/request.py)

    def on(self, provider: str) -> Handling:
        handling: Handling = getattr(self, provider)
        return handling


SAMPLING_DROPPED = "dropped"
REQUEST_FIELDS: dict[str, Entry] = {
    "model": Entry(T, T, "routed; the upstream model is the routing target"),
    "messages": Entry(T, T),
    "max_tokens": Entry(T, T, "OpenAI: `max_completion_tokens`, capped at the model's limit"),
    "stream": Entry(T, T),
    "system": Entry(T, T),
    "stop_sequences": Entry(T, T, "at most 5 on Gemini, 4 on OpenAI; refused on o-series"),
    "temperature": Entry(
        T,
        T,
        "OpenAI reasoning models take only the default: dropped there; Anthropic's current "
        "API (Claude on the clouds too) takes no sampling parameters",
        anthropic=SAMPLING_DROPPED,
    ),
    "top_p": Entry(T, T, "as temperature", anthropic=SAMPLING_DROPPED),
    "top_k": Entry(T, R, "OpenAI has no top_k", anthropic=SAMPLING_DROPPED),
    "tools": Entry(T, T, "per tool type, see the tool table"),
    "tool_choice": Entry(T, T),
    "thinking": Entry(T, T, "Gemini `thinkingConfig`; OpenAI `reasoning_effort`"),
    "output_config": Entry(T, T, "`effort` and `format` (structured outputs)"),
    "output_format": Entry(T, T, "the beta spelling of `output_config.format`"),
    "metadata": Entry(A, T, "OpenAI: `user_id` → `safety_identifier` (hashed)"),
    "cache_control": Entry(A, A, "a caching hint; Gemini and OpenAI cache prompts implicitly"),
    "service_tier": Entry(A, A, "a capacity preference"),
    "speed": Entry(A, A, "an output-speed preference"),
    "diagnostics": Entry(A, A, "Anthropic-side diagnostics"),
    "user_profile_id": Entry(A, A, "Anthropic account attribution"),
    "workspace_id": Entry(A, A, "Anthropic account attribution"),
    "billing_policy": Entry(A, A, "Anthropic billing"),
    "fallback_credit_token": Entry(A, A, "Anthropic billing"),
    "betas": Entry(A, A, "the SDK sends it as the `anthropic-beta` header, never in the body"),
    "context_management": Entry(
        T,
        T,
        "`clear_thinking_*` edits hold by construction (old thinking is never resent); "
        "other edits refused",
    ),
    "inference_geo": Entry(R, R, "data residency cannot be guaranteed off Anthropic"),
    "container": Entry(R, R, "code execution containers are Anthropic's"),
    "mcp_servers": Entry(R, R, "the MCP connector runs at Anthropic"),
    "compaction": Entry(R, R, "server-side compaction runs at Anthropic"),
    "fallbacks": Entry(R, R, "Anthropic-side model fallbacks; use `routing.aliases` chains"),
    "thread": Entry(R, R, "server-side threads are Anthropic's"),
}

CONTENT_BLOCKS: dict[str, Entry] = {
    "text": Entry(T, T, "whitespace-only text is dropped"),
    "image": Entry(T, T, "Gemini: types it refuses become a text note"),
    "document": Entry(T, T, "OpenAI: PDFs and text only"),
    "search_result": Entry(T, T, "as text with its title and source"),
    "thinking": Entry(
        T,
        A,
        "Gemini: its own signed thoughts go back to the model family that signed them; "
        "any provider's earlier-turn thinking "
        "is dropped, as Anthropic documents for earlier turns",
    ),
    "redacted_thinking": Entry(A, A, "as thinking"),
    "tool_use": Entry(T, T),
    "tool_result": Entry(T, T),
    "server_tool_use": Entry(T, T, "web search, web fetch and tool search calls: as text history"),
    "web_search_tool_result": Entry(T, T, "as text: each result's title and URL"),
    "web_fetch_tool_result": Entry(T, T, "as text: the URL and the fetched document"),
    "tool_search_tool_result": Entry(R, R, "server-side tool search results"),
    "code_execution_tool_result": Entry(R, R, "code execution runs at Anthropic"),
    "bash_code_execution_tool_result": Entry(R, R, "code execution runs at Anthropic"),
    "text_editor_code_execution_tool_result": Entry(R, R, "code execution runs at Anthropic"),
    "container_upload": Entry(R, R, "code execution containers are Anthropic's"),
    "mcp_tool_use": Entry(R, R, "the MCP connector runs at Anthropic"),
    "mcp_tool_result": Entry(R, R, "the MCP connector runs at Anthropic"),
    "mcp_tool_listing": Entry(R, R, "the MCP connector runs at Anthropic"),
    "compaction": Entry(R, R, "server-side compaction runs at Anthropic"),
    "advisor_tool_result": Entry(R, R, "the advisor tool runs at Anthropic"),
    "fallback": Entry(R, R, "Anthropic-side model fallbacks"),
    "tool_addition": Entry(R, R, "server-side tool changes"),
    "tool_removal": Entry(R, R, "server-side tool changes"),
}

TOOL_RESULT_CONTENT: dict[str, Entry] = {
    "text": Entry(T, T),
    "image": Entry(T, T, "as media after the result"),
    "document": Entry(T, T, "as media after the result"),
    "search_result": Entry(T, T, "as text with its title and source"),
    "tool_reference": Entry(T, T, "the named deferred tool is declared; the reference is text"),
    "browser_state": Entry(R, R, "the browser toolset runs at Anthropic"),
}

# Tool `type`s, by family: a dated version (`web_search_20250305`) belongs to its family.
TOOL_TYPES: dict[str, Entry] = {
    "custom": Entry(T, T, "function declarations; names mapped where the upstream refuses them"),
    "web_search": Entry(
        T,
        R,
        "Gemini: Google Search grounding, answered as `server_tool_use` + "
        "`web_search_tool_result` + citations; `allowed_domains`/`blocked_domains` refused, "
        "and so is mixing it with custom tools (Gemini refuses that); Chat Completions has none",
    ),
    "web_fetch": Entry(
        T,
        R,
        "Gemini: URL context, answered as `web_fetch_tool_result`; domain filters refused; "
        "Chat Completions has none",
    ),
    "tool_search_tool_bm25": Entry(T, T, "every deferred tool is declared instead"),
    "tool_search_tool_regex": Entry(T, T, "every deferred tool is declared instead"),
    "bash": Entry(R, R, "an Anthropic-defined tool schema"),
    "code_execution": Entry(R, R, "code execution runs at Anthropic"),
    "computer": Entry(R, R, "an Anthropic-defined tool schema"),
    "computer_toolset": Entry(R, R, "an Anthropic-defined tool schema"),
    "browser_toolset": Entry(R, R, "the browser toolset runs at Anthropic"),
    "text_editor": Entry(R, R, "an Anthropic-defined tool schema"),
    "memory": Entry(R, R, "an Anthropic-defined tool schema"),
    "mcp_toolset": Entry(R, R, "the MCP connector runs at Anthropic"),
    "advisor": Entry(R, R, "the advisor tool runs at Anthropic"),
}


def tool_family(tool_type: str | None) -> str:
    """`web_search_20250305` -> `web_search`; no type is a custom tool."""
    if tool_type is None:
        return "custom"
    head, _, tail = tool_type.rpartition("_")
    return head if head and tail.isdigit() else tool_type


def check_request_fields(fields: dict[str, Any], provider: str) -> None:
    """Refuse, by name, a top-level field the provider cannot carry (a null counts as absent)."""
    for name, value in fields.items():
        if value is None:
            continue
        entry = REQUEST_FIELDS.get(name)
        if entry is None:
            raise InvalidRequest(
                f"{name}: this field is not supported on {provider} (ai-proxy does not know it; "
                "the Anthropic provider forwards it)"
            )
        if entry.on(provider) is Handling.REFUSED:
            raise InvalidRequest(f"{name}: not supported on {provider}: {entry.note}")
        if name == "context_management":
            _check_context_management(value, provider)


def _check_context_management(value: Any, provider: str) -> None:
    edits = value.get("edits") if isinstance(value, dict) else None
    for edit in edits or ():
        kind = edit.get("type") if isinstance(edit, dict) else None
        if not (isinstance(kind, str) and kind.startswith("clear_thinking")):
            raise InvalidRequest(
                f"context_management.edits: edit type '{kind}' is not supported on {provider}"
            )


def refuse_block(kind: str, provider: str, where: str = "content block") -> InvalidRequest:
    """The 400 for a block type the provider cannot carry, naming it and why."""
    table = TOOL_RESULT_CONTENT if where == "tool_result content" else CONTENT_BLOCKS
    entry = table.get(kind)
    reason = entry.note if entry is not None else "ai-proxy does not know this type"
    return InvalidRequest(f"{where} type '{kind}' is not supported on {provider}: {reason}")


def refuse_tool(name: str, tool_type: str | None, provider: str) -> InvalidRequest:
    entry = TOOL_TYPES.get(tool_family(tool_type))
    reason = entry.note if entry is not None else "ai-proxy does not know this tool type"
    return InvalidRequest(
        f"tools: '{name}' (type '{tool_type}') is not supported on {provider}: {reason}"
    )
