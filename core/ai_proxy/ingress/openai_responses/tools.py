"""Responses `tools` and `tool_choice` -> Anthropic `tools` and `tool_choice`.

Three kinds of tool the client runs itself are carried: `function` (a JSON-schema tool),
`custom` (freeform text input, Codex's apply_patch) and `local_shell` (Codex's built-in
shell). Anthropic tools take a JSON object, so a custom tool is declared with one string
property, `input`, and its grammar, if any, told to the model in the description; a local
shell tool with the fields of OpenAI's exec action. The answer turns calls of them back into
`custom_tool_call` and `local_shell_call` items (answer.py), knowing which is which from
`ToolKinds`. Hosted tools (web search, file search, computer use, MCP, ...) run at OpenAI and
are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import InvalidRequest
from ..openai_chat.shapes import as_bool, as_list, as_object, as_str
from .shapes import check_keys

LOCAL_SHELL = "local_shell"
WEB_SEARCH = "web_search"
WEB_SEARCH_TYPE = "web_search_20250305"
CUSTOM_INPUT = "input"  # the one property of a custom tool's Anthropic input
LOCAL_SHELL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {"type": "array", "items": {"type": "string"}},
        "timeout_ms": {"type": "integer"},
        "working_directory": {"type": "string"},
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
        "user": {"type": "string"},
    },
    "required": ["command"],
}
_FUNCTION_KEYS = frozenset(
    {"type", "name", "description", "parameters", "strict", "defer_loading", "allowed_callers"}
)
_CUSTOM_KEYS = frozenset({"type", "name", "description", "format", "defer_loading"})


@dataclass(frozen=True, slots=True)
class ToolKinds:
    """Which declared tool names answer as which item type (function_call is the default)."""

    custom: frozenset[str] = field(default_factory=frozenset)
    local_shell: bool = False


@dataclass(frozen=True, slots=True)
class Tools:
    anthropic: list[dict[str, Any]]  # the Anthropic tools
    echo: list[dict[str, Any]]  # the tools as the response object shows them
    kinds: ToolKinds


def to_anthropic_tools(value: Any) -> Tools:
    if value is None:
        return Tools([], [], ToolKinds())
    tools: list[dict[str, Any]] = []
    echo: list[dict[str, Any]] = []
    custom: set[str] = set()
    shell = False
    for index, raw in enumerate(as_list(value, "tools")):
        path = f"tools[{index}]"
        tool = as_object(raw, path)
        match tool.get("type"):
            case "function":
                tools.append(_function(tool, path))
                echo.append(
                    {
                        "type": "function",
                        "name": tools[-1]["name"],
                        "description": tool.get("description"),
                        "parameters": tools[-1]["input_schema"],
                        "strict": tool.get("strict"),
                    }
                )
            case "custom":
                tools.append(_custom(tool, path))
                custom.add(tools[-1]["name"])
                echo.append(
                    {
                        "type": "custom",
                        "name": tools[-1]["name"],
                        "description": tool.get("description"),
                        "format": tool.get("format"),
                    }
                )
            case "local_shell":
                check_keys(tool, frozenset({"type"}), path)
                tools.append(
                    {
                        "name": LOCAL_SHELL,
                        "description": "Runs a shell command on the user's machine.",
                        "input_schema": LOCAL_SHELL_SCHEMA,
                    }
                )
                shell = True
                echo.append({"type": "local_shell"})
            case (
                "web_search"
                | "web_search_2025_08_26"
                | "web_search_preview"
                | ("web_search_preview_2025_03_11")
            ):
                tools.append(_web_search(tool, path))
                echo.append(dict(tool))
            case other:
                raise InvalidRequest(
                    f"{path}.type: {other!r} tools run at OpenAI and cannot be served here; "
                    "only function, custom, local_shell and web_search tools are supported"
                )
    names = [tool["name"] for tool in tools]
    if len(set(names)) != len(names):
        raise InvalidRequest("tools: tool names must be unique")
    return Tools(tools, echo, ToolKinds(frozenset(custom), shell))


def _function(tool: dict[str, Any], path: str) -> dict[str, Any]:
    check_keys(tool, _FUNCTION_KEYS, path)
    out: dict[str, Any] = {"name": as_str(tool.get("name"), f"{path}.name")}
    if tool.get("description") is not None:
        out["description"] = as_str(tool["description"], f"{path}.description")
    parameters = tool.get("parameters")
    out["input_schema"] = (
        as_object(parameters, f"{path}.parameters")
        if parameters is not None
        else {"type": "object"}
    )
    if tool.get("strict") is not None and as_bool(tool["strict"], f"{path}.strict"):
        out["strict"] = True
    if tool.get("defer_loading") is not None:
        out["defer_loading"] = as_bool(tool["defer_loading"], f"{path}.defer_loading")
    return out


def _web_search(tool: dict[str, Any], path: str) -> dict[str, Any]:
    """OpenAI's hosted web search as Anthropic's: the search runs where the request is served
    (an upstream without one refuses it in its own words). `external_web_access` false (Codex's
    "cached" mode) has no Anthropic equivalent and is served as a live search;
    `search_context_size` is a cost preference."""
    keys = frozenset(
        {"type", "filters", "user_location", "search_context_size", "external_web_access"}
    )
    check_keys(tool, keys, path)
    out: dict[str, Any] = {"type": WEB_SEARCH_TYPE, "name": WEB_SEARCH}
    if tool.get("filters") is not None:
        filters = as_object(tool["filters"], f"{path}.filters")
        check_keys(filters, frozenset({"allowed_domains"}), f"{path}.filters")
        domains = as_list(filters.get("allowed_domains"), f"{path}.filters.allowed_domains")
        out["allowed_domains"] = [
            as_str(domain, f"{path}.filters.allowed_domains[{index}]")
            for index, domain in enumerate(domains)
        ]
    if tool.get("user_location") is not None:
        location = as_object(tool["user_location"], f"{path}.user_location")
        place_keys = ("city", "region", "country", "timezone")
        check_keys(location, frozenset({"type", *place_keys}), f"{path}.user_location")
        out["user_location"] = {
            "type": "approximate",
            **{key: location[key] for key in place_keys if location.get(key) is not None},
        }
    return out


def _custom(tool: dict[str, Any], path: str) -> dict[str, Any]:
    check_keys(tool, _CUSTOM_KEYS, path)
    name = as_str(tool.get("name"), f"{path}.name")
    parts: list[str] = []
    if tool.get("description") is not None:
        parts.append(as_str(tool["description"], f"{path}.description"))
    if tool.get("format") is not None:
        parts.extend(_grammar(as_object(tool["format"], f"{path}.format"), f"{path}.format"))
    out: dict[str, Any] = {
        "name": name,
        "input_schema": {
            "type": "object",
            "properties": {CUSTOM_INPUT: {"type": "string"}},
            "required": [CUSTOM_INPUT],
        },
    }
    if parts:
        out["description"] = "\n\n".join(parts)
    if tool.get("defer_loading") is not None:
        out["defer_loading"] = as_bool(tool["defer_loading"], f"{path}.defer_loading")
    return out


def _grammar(fmt: dict[str, Any], path: str) -> list[str]:
    match fmt.get("type"):
        case "text":
            check_keys(fmt, frozenset({"type"}), path)
            return []
        case "grammar":
            check_keys(fmt, frozenset({"type", "syntax", "definition"}), path)
            syntax = as_str(fmt.get("syntax"), f"{path}.syntax")
            definition = as_str(fmt.get("definition"), f"{path}.definition")
            # Anthropic has no constrained decoding by grammar: the model is told the grammar.
            return [f"The `{CUSTOM_INPUT}` string must match this {syntax} grammar:\n{definition}"]
        case other:
            raise InvalidRequest(f"{path}.type: unknown custom tool format {other!r}")


def to_anthropic_tool_choice(value: Any, parallel: Any, tools: Tools) -> dict[str, Any] | None:
    """tool_choice, with parallel_tool_calls false as disable_parallel_tool_use."""
    serial = parallel is not None and not as_bool(parallel, "parallel_tool_calls")
    choice: dict[str, Any] | None
    match value:
        case None | "auto":
            choice = {"type": "auto"} if serial else None
        case "none":
            choice = {"type": "none"}
        case "required":
            choice = {"type": "any"}
        case {"type": "function" | "custom", **rest}:
            name = as_str(rest.get("name"), "tool_choice.name")
            choice = {"type": "tool", "name": name}
        case {"type": "local_shell"}:
            choice = {"type": "tool", "name": LOCAL_SHELL}
        case {"type": "allowed_tools"}:
            raise InvalidRequest(
                "tool_choice: 'allowed_tools' has no Anthropic equivalent; send only the "
                "allowed tools in `tools` instead"
            )
        case {"type": other}:
            raise InvalidRequest(f"tool_choice.type: {other!r} is not supported here")
        case _:
            raise InvalidRequest(
                "tool_choice: expected 'none', 'auto', 'required' or an object naming a tool"
            )
    declared = {tool["name"] for tool in tools.anthropic}
    if choice is not None and choice["type"] == "tool" and choice["name"] not in declared:
        raise InvalidRequest(f"tool_choice.name: tool {choice['name']!r} is not among tools")
    if serial and choice is not None and choice["type"] != "none":
        choice["disable_parallel_tool_use"] = True
    return choice
