"""The client's Messages body -> the body we send to Anthropic: as sent, but for two fixes.

1. `model` becomes the upstream model when routing renamed it (an alias, `anthropic/...`).
2. Thinking blocks another provider signed are removed. Anthropic verifies every signature it
   is sent and answers 400 to one it did not issue, and a Gemini conversation that falls back
   to Claude carries Gemini's. What counts as "Anthropic's": a non-empty signature in the
   base64 alphabet (standard or URL-safe) that Anthropic's signatures are written in. Every
   signature this gateway mints for another provider is namespaced `<provider>:...` (see
   gemini/signatures.py), and `:` is outside that alphabet, so ours never pass; an empty
   signature (a provider that signs nothing) cannot verify either. We cannot check the
   cryptography, only the provenance: a forged base64 signature still reaches Anthropic,
   which rejects it as it would without us.

Everything else, known to our models or not (cache_control, betas, metadata), is forwarded
untouched; when nothing needs fixing, the client's bytes go out exactly as they came in.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ...errors import InvalidRequest

_ANTHROPIC_SIGNATURE = re.compile(r"[A-Za-z0-9+/=_-]+")
_THINKING_TYPES = ("thinking", "redacted_thinking")


def is_anthropic_signature(signature: object) -> bool:
    return isinstance(signature, str) and _ANTHROPIC_SIGNATURE.fullmatch(signature) is not None


def to_anthropic_body(client_body: bytes, upstream_model: str) -> bytes:
    """The upstream body; the client's own bytes when nothing had to change."""
    try:
        payload = orjson.loads(client_body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("request body must be a JSON object")
    changed = False
    if payload.get("model") != upstream_model:
        payload["model"] = upstream_model
        changed = True
    messages = payload.get("messages")
    if isinstance(messages, list) and _strip_foreign_thinking(payload, messages):
        changed = True
    return orjson.dumps(payload) if changed else client_body


def _strip_foreign_thinking(payload: dict[str, Any], messages: list[Any]) -> bool:
    stripped_from_last_assistant = False
    stripped = False
    last_assistant = _last_assistant_index(messages)
    for index, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        kept = [block for block in content if not _is_foreign_thinking(block)]
        if len(kept) != len(content):
            message["content"] = kept
            stripped = True
            stripped_from_last_assistant |= index == last_assistant
    if stripped_from_last_assistant:
        _disable_thinking_if_unsatisfiable(payload, messages[last_assistant])
    return stripped


def _is_foreign_thinking(block: Any) -> bool:
    return (
        isinstance(block, dict)
        and block.get("type") == "thinking"
        and not is_anthropic_signature(block.get("signature"))
    )


def _last_assistant_index(messages: list[Any]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, dict) and message.get("role") == "assistant":
            return index
    return -1


def _disable_thinking_if_unsatisfiable(payload: dict[str, Any], message: dict[str, Any]) -> None:
    """Anthropic answers 400 ("a final assistant message must start with a thinking block")
    when thinking is on and the assistant turn of an unfinished tool loop opens with no
    thinking block. Once another provider's thinking is stripped from that turn, no valid
    block can take its place, so thinking is turned off for this one request, which is the
    remedy Anthropic's own error message names; the next turn thinks again."""
    thinking = payload.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") == "disabled":
        return
    content = message.get("content")
    if not isinstance(content, list) or not any(
        isinstance(block, dict) and block.get("type") == "tool_use" for block in content
    ):
        return
    first = content[0] if content else None
    if isinstance(first, dict) and first.get("type") in _THINKING_TYPES:
        return
    del payload["thinking"]
