"""Chat Completions `tools`, `tool_choice` and `parallel_tool_calls` -> Anthropic's."""

from __future__ import annotations

from typing import Any

from ...errors import InvalidRequest
from .shapes import as_bool, as_list, as_object, as_str, check_keys

# The object a function without `parameters` takes: Chat Completions' documented default.
EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
# Chat Completions' tool_choice words -> Anthropic tool_choice types.
TOOL_CHOICE_TYPES = {"auto": "auto", "none": "none", "required": "any"}


def to_anthropic_tools(payload: dict[str, Any]) -> dict[str, Any]:
    """The `tools` and `tool_choice` fields of the Anthropic request (either may be absent)."""
    tools = _tools(payload.get("tools"))
    choice = payload.get("tool_choice")
    parallel = payload.get("parallel_tool_calls")
    serial = parallel is not None and not as_bool(parallel, "parallel_tool_calls")
    if not tools:
        if choice is not None and choice not in ("auto", "none"):
            raise InvalidRequest("tool_choice: a tool choice needs tools")
        return {}
    tool_choice, allowed = _tool_choice(choice)
    if allowed is not None:
        unknown = allowed - {tool["name"] for tool in tools}
        if unknown:
            raise InvalidRequest(
                f"tool_choice.allowed_tools.tools: not among tools: {', '.join(sorted(unknown))}"
            )
        # Anthropic has no "declared but not callable": the others are left out.
        tools = [tool for tool in tools if tool["name"] in allowed]
    if serial:
        tool_choice = {"type": "auto", **(tool_choice or {}), "disable_parallel_tool_use": True}
    fields: dict[str, Any] = {"tools": tools}
    if tool_choice is not None:
        fields["tool_choice"] = tool_choice
    return fields


def _tools(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    tools = []
    for index, raw in enumerate(as_list(value, "tools")):
        path = f"tools[{index}]"
        tool = as_object(raw, path)
        if tool.get("type") != "function":
            raise InvalidRequest(
                f"{path}.type: only 'function' tools can be carried, got {tool.get('type')!r}"
            )
        check_keys(tool, frozenset({"type", "function"}), path)
        tools.append(_function(tool.get("function"), f"{path}.function"))
    return tools


def _function(value: Any, path: str) -> dict[str, Any]:
    function = as_object(value, path)
    check_keys(function, frozenset({"name", "description", "parameters", "strict"}), path)
    tool: dict[str, Any] = {"name": as_str(function.get("name"), f"{path}.name")}
    if function.get("description") is not None:
        tool["description"] = as_str(function["description"], f"{path}.description")
    parameters = function.get("parameters")
    tool["input_schema"] = (
        as_object(parameters, f"{path}.parameters") if parameters is not None else EMPTY_PARAMETERS
    )
    if function.get("strict") is not None:
        tool["strict"] = as_bool(function["strict"], f"{path}.strict")
    return tool


def _tool_choice(value: Any) -> tuple[dict[str, Any] | None, set[str] | None]:
    """The Anthropic tool_choice, and the names allowed_tools restricts the tools to."""
    if value is None:
        return None, None
    if isinstance(value, str):
        kind = TOOL_CHOICE_TYPES.get(value)
        if kind is None:
            raise InvalidRequest(f"tool_choice: expected auto, none or required, got {value!r}")
        return {"type": kind}, None
    choice = as_object(value, "tool_choice")
    match choice.get("type"):
        case "function":
            function = as_object(choice.get("function"), "tool_choice.function")
            name = as_str(function.get("name"), "tool_choice.function.name")
            return {"type": "tool", "name": name}, None
        case "allowed_tools":
            return _allowed_tools(choice.get("allowed_tools"))
        case other:
            raise InvalidRequest(
                "tool_choice.type: only 'function' and 'allowed_tools' can be carried, "
                f"got {other!r}"
            )


def _allowed_tools(value: Any) -> tuple[dict[str, Any], set[str]]:
    path = "tool_choice.allowed_tools"
    allowed = as_object(value, path)
    mode = allowed.get("mode")
    if mode not in ("auto", "required"):
        raise InvalidRequest(f"{path}.mode: expected auto or required, got {mode!r}")
    names = set()
    for index, raw in enumerate(as_list(allowed.get("tools"), f"{path}.tools")):
        tool = as_object(raw, f"{path}.tools[{index}]")
        if tool.get("type") != "function":
            raise InvalidRequest(
                f"{path}.tools[{index}].type: only 'function' tools can be carried, "
                f"got {tool.get('type')!r}"
            )
        function = as_object(tool.get("function"), f"{path}.tools[{index}].function")
        names.add(as_str(function.get("name"), f"{path}.tools[{index}].function.name"))
    return {"type": TOOL_CHOICE_TYPES[mode]}, names
