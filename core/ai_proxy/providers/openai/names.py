"""Tool names and tool-call ids that OpenAI would refuse, made acceptable and mapped back.

OpenAI takes function names matching ^[a-zA-Z0-9_-]{1,64}$ (Anthropic allows longer names,
and MCP tools in Claude Code are often `mcp__<server>__<tool>` past 64 characters) and
tool-call ids of at most 40 characters. Both conversions are pure functions of the original,
so a request is translated without any stored state, and the reverse name map for a response
is rebuilt from the same request's tool list (`RequestContext.client_body`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import orjson

MAX_NAME_LENGTH = 64
MAX_CALL_ID_LENGTH = 40
_VALID_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_INVALID_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_HASH_LENGTH = 10
_SHORTENED = re.compile(r"_[0-9a-f]{10}$")


def to_openai_tool_name(name: str) -> str:
    """The name unchanged when OpenAI takes it, else a readable prefix plus a hash of it all.

    The hash keeps two long names that share their first 53 characters (or differ only in
    characters we replace) from becoming the same OpenAI name.
    """
    if _VALID_NAME.fullmatch(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_LENGTH]
    readable = _INVALID_NAME_CHARS.sub("_", name)[: MAX_NAME_LENGTH - _HASH_LENGTH - 1]
    return f"{readable}_{digest}"


def to_openai_call_id(tool_use_id: str) -> str:
    """Tool-use ids from other providers or clients may exceed OpenAI's 40 characters."""
    if len(tool_use_id) <= MAX_CALL_ID_LENGTH:
        return tool_use_id
    return "call_" + hashlib.sha256(tool_use_id.encode()).hexdigest()[: MAX_CALL_ID_LENGTH - 5]


class ToolNames:
    """OpenAI function name -> the client's tool name, for the names we had to change.

    Built from the client's own request body, and only when a response names a tool whose
    name carries our hash suffix: requests whose names all pass unchanged never pay for it.
    """

    __slots__ = ("_client_body", "_originals")

    def __init__(self, names: Iterable[str] = (), *, client_body: bytes = b"") -> None:
        self._client_body = client_body
        self._originals: dict[str, str] | None = None if client_body else _originals(names)

    def to_client(self, openai_name: str) -> str:
        if not _SHORTENED.search(openai_name):
            return openai_name
        if self._originals is None:
            self._originals = _originals(_declared_tool_names(self._client_body))
        return self._originals.get(openai_name, openai_name)


def _originals(names: Iterable[str]) -> dict[str, str]:
    originals = {}
    for name in names:
        openai_name = to_openai_tool_name(name)
        if openai_name != name:
            originals[openai_name] = name
    return originals


def _declared_tool_names(client_body: bytes) -> list[str]:
    """The tools a response may call are the ones the request declares."""
    try:
        payload = orjson.loads(client_body)
    except orjson.JSONDecodeError:
        return []
    tools = payload.get("tools") if isinstance(payload, dict) else None
    if not isinstance(tools, list):
        return []
    return [t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)]
