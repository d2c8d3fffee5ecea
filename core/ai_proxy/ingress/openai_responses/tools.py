"""Responses `tools` and `tool_choice` -> Anthropic `tools` and `tool_choice`.

Three kinds of tool the client runs itself are carried: `function` (a JSON-schema tool),
`custom` (freeform text input, Codex's apply_patch) and `local_shell` (Codex's built-in
shell). Anthropic tools take a JSON object, so a custom tool is declared with one string
property, `input`, and its grammar, if any, told to the model in the description; a local
shell tool with the fields of OpenAI's exec action. The answer turns calls of them back into
`custom_tool_call` and `local_shell_call` items (answer.py), knowing which is which from
`ToolKinds`. A `namespace` groups function and custom tools (Codex's multi_agent_v1);
Anthropic has no namespaces, so each member is declared flat as `<namespace>__<name>`, and
the answer's call items carry `name` and `namespace` apart again, as the Responses API does.
Web search is carried as Anthropic's server tool. Other hosted tools (file search, computer
use, MCP, ...) run at OpenAI and are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import InvalidRequest
from ..openai_chat.shapes import as_bool, as_list, as_object, as_str
from .shapes import check_keys

LOCAL_SHELL = "local_shell"
WEB_SEARCH = "web_search"
WEB_SEARCH_TYPE = "web_search_20250305"
CUSTOM_INPUT = "input"  # the one property of a custom tool's Anthropic input
NAMESPACE_SEPARATOR = "__"  # Anthropic tool names take only [a-zA-Z0-9_-]
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
_NAMESPACE_KEYS = frozenset({"type", "name", "description", "tools"})


@dataclass(frozen=True, slots=True)
class ToolKinds:
    """Which declared tool names answer as which item type (function_call is the default)."""

    custom: frozenset[str] = field(default_factory=frozenset)
    local_shell: bool = False
    # Anthropic tool name -> (namespace, name) for the members of namespace tools.
    namespaced: Mapping[str, tuple[str, str]] = field(default_factory=dict)


def namespaced_name(namespace: str, name: str) -> str:
    """The flat Anthropic name of a namespace member; a function of the two alone, so a call
    item sent back with its namespace names the same tool without anything kept."""
    return f"{namespace}{NAMESPACE_SEPARATOR}{name}"


@dataclass(frozen=True, slots=True)
class Tools:
    anthropic: list[dict[str, Any]]  # the Anthropic tools
    echo: list[dict[str, Any]]  # the tools as the response object shows them
    kinds: ToolKinds


def to_anthropic_tools(value: Any) -> Tools:
    if value is None:
        return Tools([], [], ToolKinds())
    declared = _Declared()
    for index, raw in enumerate(as_list(value, "tools")):
        path = f"tools[{index}]"
        tool = as_object(raw, path)
        match tool.get("type"):
            case "function" | "custom":
                declared.echo.append(declared.member(tool, path))
            case "namespace":
                declared.echo.append(declared.namespace(tool, path))
            case "local_shell":
                check_keys(tool, frozenset({"type"}), path)
                declared.tools.append(
                    {
                        "name": LOCAL_SHELL,
                        "description": "Runs a shell command on the user's machine.",
                        "input_schema": LOCAL_SHELL_SCHEMA,
                    }
                )
                declared.shell = True
                declared.echo.append({"type": "local_shell"})
            case (
                "web_search"
                | "web_search_2025_08_26"
                | "web_search_preview"
                | ("web_search_preview_2025_03_11")
            ):
                declared.tools.append(_web_search(tool, path))
                declared.echo.append(dict(tool))
            case other:
                raise InvalidRequest(
                    f"{path}.type: {other!r} tools run at OpenAI and cannot be served here; "
                    "only function, custom, namespace, local_shell and web_search tools are "
                    "supported"
                )
    names = [tool["name"] for tool in declared.tools]
    if len(set(names)) != len(names):
        raise InvalidRequest("tools: tool names must be unique")
    kinds = ToolKinds(frozenset(declared.custom), declared.shell, declared.namespaced)
    return Tools(declared.tools, declared.echo, kinds)


@dataclass(slots=True)
class _Declared:
    """The tools of one request as they are read."""

    tools: list[dict[str, Any]] = field(default_factory=list)
    echo: list[dict[str, Any]] = field(default_factory=list)
    custom: set[str] = field(default_factory=set)
    namespaced: dict[str, tuple[str, str]] = field(default_factory=dict)
    shell: bool = False

    def member(
        self,
        tool: dict[str, Any],
        path: str,
        namespace: str | None = None,
        preface: str | None = None,
    ) -> dict[str, Any]:
        """Declares a function or custom tool, flat if in a namespace; returns its echo."""
        custom = tool.get("type") == "custom"
        out = _custom(tool, path) if custom else _function(tool, path)
        name: str = out["name"]
        echo: dict[str, Any] = {
            "type": tool["type"],
            "name": name,
            "description": tool.get("description"),
        }
        if custom:
            echo["format"] = tool.get("format")
        else:
            echo.update(parameters=out["input_schema"], strict=tool.get("strict"))
        if namespace is not None:
            out["name"] = namespaced_name(namespace, name)
            self.namespaced[out["name"]] = (namespace, name)
        if preface is not None:
            # The Responses API shows the model a namespace's description; Anthropic has only
            # the members', so each member's starts with it.
            out["description"] = "\n\n".join(filter(None, (preface, out.get("description"))))
        if custom:
            self.custom.add(out["name"])
        self.tools.append(out)
        return echo

    def namespace(self, tool: dict[str, Any], path: str) -> dict[str, Any]:
        check_keys(tool, _NAMESPACE_KEYS, path)
        name = as_str(tool.get("name"), f"{path}.name")
        description = tool.get("description")
        if description is not None:
            description = as_str(description, f"{path}.description")
        members = []
        for index, raw in enumerate(as_list(tool.get("tools"), f"{path}.tools")):
            member_path = f"{path}.tools[{index}]"
            member = as_object(raw, member_path)
            if member.get("type") not in ("function", "custom"):
                raise InvalidRequest(
                    f"{member_path}.type: a namespace holds only function and custom tools, "
                    f"not {member.get('type')!r}"
                )
            members.append(self.member(member, member_path, name, description))
        return {"type": "namespace", "name": name, "description": description, "tools": members}


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
