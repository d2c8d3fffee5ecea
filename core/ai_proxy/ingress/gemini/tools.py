"""Gemini `tools` and `toolConfig` -> Anthropic `tools` and `tool_choice`.

Function declarations become custom tools: `parametersJsonSchema` is JSON Schema already,
`parameters` (Gemini's OpenAPI-style Schema, upper-case types) is rewritten into it. Google
Search grounding and URL context become Anthropic's web search and web fetch server tools,
which every upstream translates back (to Gemini's own tools on Gemini). Gemini's other
built-in tools run inside Google and have no equivalent: refused by name.
"""

from __future__ import annotations

from typing import Any

from ...errors import InvalidRequest
from ..openai_chat.shapes import as_list, as_object, as_str
from .shapes import as_fields, check_keys

WEB_TOOLS = {
    "googleSearch": {"type": "web_search_20250305", "name": "web_search"},
    "urlContext": {"type": "web_fetch_20250910", "name": "web_fetch"},
}
REFUSED_TOOLS = {
    "googleSearchRetrieval": "the Gemini 1.5 search tool; send googleSearch",
    "codeExecution": "Gemini's code execution has no equivalent on this gateway",
    "computerUse": "Gemini's computer use has no equivalent on this gateway",
    "retrieval": "Vertex AI retrieval has no equivalent on this gateway",
    "fileSearch": "Gemini's file search stores have no equivalent on this gateway",
    "googleMaps": "Google Maps grounding has no equivalent on this gateway",
    "enterpriseWebSearch": "Vertex AI enterprise search has no equivalent on this gateway",
    "mcpServers": "remote MCP servers are not offered on this gateway",
}
_GEMINI_TYPES = frozenset({"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"})
CALLING_MODES = {"AUTO": "auto", "VALIDATED": "auto", "ANY": "any", "NONE": "none"}
_DECLARATION_KEYS = frozenset(
    {
        "name",
        "description",
        "parameters",
        "parametersJsonSchema",
        "response",
        "responseJsonSchema",
        "behavior",
    }
)
# Gemini Schema fields that are JSON Schema's under the same name.
_SAME_NAME = (
    "description",
    "enum",
    "format",
    "title",
    "default",
    "example",
    "pattern",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
    "required",
)


def to_anthropic_tools(payload: dict[str, Any]) -> dict[str, Any]:
    """The request's `tools` and `tool_choice` entries (none when nothing is declared)."""
    tools: list[dict[str, Any]] = []
    for index, entry in enumerate(as_list(payload.get("tools") or [], "tools")):
        path = f"tools[{index}]"
        entry = as_fields(entry, path)
        check_keys(entry, frozenset({"functionDeclarations", *WEB_TOOLS, *REFUSED_TOOLS}), path)
        for name, why in REFUSED_TOOLS.items():
            if entry.get(name) is not None:
                raise InvalidRequest(f"{path}.{name}: {why}")
        for name, tool in WEB_TOOLS.items():
            if entry.get(name) is not None:
                tools.append(dict(tool))
        declarations = as_list(
            entry.get("functionDeclarations") or [], f"{path}.functionDeclarations"
        )
        for number, declaration in enumerate(declarations):
            tools.append(_to_custom_tool(declaration, f"{path}.functionDeclarations[{number}]"))
    result: dict[str, Any] = {}
    choice, allowed = _tool_choice(payload.get("toolConfig"))
    if allowed is not None:
        unknown = allowed - {tool["name"] for tool in tools}
        if unknown:
            raise InvalidRequest(
                "toolConfig.functionCallingConfig.allowedFunctionNames: not declared: "
                + ", ".join(sorted(unknown))
            )
        # Only the allowed functions are offered: the model cannot call the others.
        tools = [tool for tool in tools if "input_schema" not in tool or tool["name"] in allowed]
    if tools:
        result["tools"] = tools
        if choice is not None:
            result["tool_choice"] = choice
    return result


def _to_custom_tool(value: Any, path: str) -> dict[str, Any]:
    declaration = as_fields(value, path)
    check_keys(declaration, _DECLARATION_KEYS, path)
    if declaration.get("behavior") not in (None, "BLOCKING", "UNSPECIFIED"):
        raise InvalidRequest(f"{path}.behavior: only blocking calls can be carried")
    tool: dict[str, Any] = {"name": as_str(declaration.get("name"), f"{path}.name")}
    if declaration.get("description") is not None:
        tool["description"] = as_str(declaration["description"], f"{path}.description")
    if declaration.get("parametersJsonSchema") is not None:
        schema = as_json_schema(declaration["parametersJsonSchema"], f"{path}.parametersJsonSchema")
    elif declaration.get("parameters") is not None:
        schema = to_json_schema(declaration["parameters"], f"{path}.parameters")
    else:
        schema = {"type": "object", "properties": {}}
    tool["input_schema"] = schema
    return tool


def as_json_schema(value: Any, path: str) -> dict[str, Any]:
    """A JSON Schema as Gemini takes it, which is also Gemini's upper-case type names
    (gemini-cli sends `"type": "OBJECT"`): those become JSON Schema's, which Anthropic wants."""
    schema: dict[str, Any] = _lower_types(as_object(value, path))
    return schema


def _lower_types(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (
                item.lower()
                if key == "type" and isinstance(item, str) and item in _GEMINI_TYPES
                else _lower_types(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_lower_types(item) for item in value]
    return value


def to_json_schema(value: Any, path: str) -> dict[str, Any]:
    """Gemini's Schema (an OpenAPI 3.0 subset) as the JSON Schema Anthropic takes."""
    schema = as_fields(value, path)
    result: dict[str, Any] = {key: schema[key] for key in _SAME_NAME if key in schema}
    kind = schema.get("type")
    if kind is not None and str(kind).upper() != "TYPE_UNSPECIFIED":
        json_type = as_str(kind, f"{path}.type").lower()
        result["type"] = [json_type, "null"] if schema.get("nullable") else json_type
    if (properties := schema.get("properties")) is not None:
        result["properties"] = {
            name: to_json_schema(sub, f"{path}.properties.{name}")
            for name, sub in as_object(properties, f"{path}.properties").items()
        }
    if (items := schema.get("items")) is not None:
        result["items"] = to_json_schema(items, f"{path}.items")
    if (any_of := schema.get("anyOf")) is not None:
        result["anyOf"] = [
            to_json_schema(sub, f"{path}.anyOf[{index}]")
            for index, sub in enumerate(as_list(any_of, f"{path}.anyOf"))
        ]
    return result


def _tool_choice(value: Any) -> tuple[dict[str, Any] | None, set[str] | None]:
    if value is None:
        return None, None
    config = as_fields(value, "toolConfig")
    check_keys(config, frozenset({"functionCallingConfig", "retrievalConfig"}), "toolConfig")
    calling = config.get("functionCallingConfig")
    if calling is None:
        return None, None
    path = "toolConfig.functionCallingConfig"
    calling = as_fields(calling, path)
    check_keys(calling, frozenset({"mode", "allowedFunctionNames"}), path)
    mode = as_str(calling.get("mode") or "AUTO", f"{path}.mode")
    if mode not in CALLING_MODES:
        raise InvalidRequest(
            f"{path}.mode: expected one of {', '.join(CALLING_MODES)}, got {mode!r}"
        )
    names = calling.get("allowedFunctionNames")
    allowed = None
    if names is not None:
        allowed = {
            as_str(name, f"{path}.allowedFunctionNames[{index}]")
            for index, name in enumerate(as_list(names, f"{path}.allowedFunctionNames"))
        }
    if CALLING_MODES[mode] == "any" and allowed is not None and len(allowed) == 1:
        return {"type": "tool", "name": next(iter(allowed))}, allowed
    return {"type": CALLING_MODES[mode]}, allowed
