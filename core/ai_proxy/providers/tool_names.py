"""Tool names an upstream would refuse, made acceptable and mapped back; one rule for all.

OpenAI takes function names matching ^[a-zA-Z0-9_-]{1,64}$; Gemini takes at most 64 of
[a-zA-Z0-9_.:-] and the first must be a letter or an underscore. Anthropic allows longer
names, and MCP tools in Claude Code are often `mcp__<server>__<tool>` past 64 characters, or
start with a digit. A name both upstreams accept passes unchanged; any other becomes a
readable prefix plus a hash of the whole name, which both accept. The conversion is a pure
function of the original, so a request is translated without any stored state, and the
reverse map for a response is rebuilt from the same request's tool list
(`RequestContext.client_body`). OpenAI's tool-call ids have rules of their own
(`openai/call_ids.py`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import orjson

MAX_NAME_LENGTH = 64
# What OpenAI and Gemini both accept.
_VALID_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
_INVALID_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_HASH_LENGTH = 10
_SHORTENED = re.compile(r"_[0-9a-f]{10}$")


def to_upstream_tool_name(name: str) -> str:
    """The name unchanged when every upstream takes it, else a readable prefix plus a hash.

    The hash keeps two long names that share their first 53 characters (or differ only in
    characters we replace) from becoming the same OpenAI name.
    """
    if _VALID_NAME.fullmatch(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_LENGTH]
    readable = _INVALID_NAME_CHARS.sub("_", name)
    if not readable[:1].isalpha():
        readable = "t_" + readable  # Gemini: the first character is a letter or underscore
    return f"{readable[: MAX_NAME_LENGTH - _HASH_LENGTH - 1]}_{digest}"


class ToolNames:
    """Upstream function name -> the client's tool name, for the names we had to change.

    Built from the client's own request body, and only when a response names a tool whose
    name carries our hash suffix: requests whose names all pass unchanged never pay for it.
    """

    __slots__ = ("_client_body", "_originals")

    def __init__(self, names: Iterable[str] = (), *, client_body: bytes = b"") -> None:
        self._client_body = client_body
        self._originals: dict[str, str] | None = None if client_body else _originals(names)

    def to_client(self, upstream_name: str) -> str:
        if not _SHORTENED.search(upstream_name):
            return upstream_name
        if self._originals is None:
            self._originals = _originals(_declared_tool_names(self._client_body))
        return self._originals.get(upstream_name, upstream_name)


def _originals(names: Iterable[str]) -> dict[str, str]:
    originals = {}
    for name in names:
        upstream_name = to_upstream_tool_name(name)
        if upstream_name != name:
            originals[upstream_name] = name
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
