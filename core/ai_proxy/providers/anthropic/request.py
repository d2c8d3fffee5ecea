"""The client's Messages body -> the body we send to Anthropic: as sent, but for five fixes,
each for what another provider, model or client format wrote, which Anthropic would refuse.

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
3. Empty and whitespace-only text blocks are removed: Anthropic refuses them ("text content
   blocks must contain non-whitespace text"), and other providers' answers hold them (the
   blank text a model writes before a tool call).
4. Thinking is turned off for this request when the last assistant turn of an unfinished tool
   loop does not start with a thinking block (see `_disable_thinking_if_unsatisfiable`).

Everything else, known to our models or not (cache_control, betas, metadata), is forwarded
untouched; when nothing needs fixing, the client's bytes go out exactly as they came in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from ...anthropic.envelope import decode_json_object

_ANTHROPIC_SIGNATURE = re.compile(r"[A-Za-z0-9+/=_-]+")
_THINKING_TYPES = ("thinking", "redacted_thinking")
SAMPLING_PARAMETERS = ("temperature", "top_p", "top_k")


def is_anthropic_signature(signature: object) -> bool:
    return isinstance(signature, str) and _ANTHROPIC_SIGNATURE.fullmatch(signature) is not None


def to_anthropic_body(client_body: bytes, upstream_model: str) -> bytes:
    """The upstream body; the client's own bytes when nothing had to change."""
    # A fresh copy: the fixes below edit it, and a fallback target may need the original.
    payload = decode_json_object(client_body)
    changed = False
    if payload.get("model") != upstream_model:
        payload["model"] = upstream_model
        changed = True
    changed |= _fix_history(payload)
    return orjson.dumps(payload) if changed else client_body


def to_cloud_claude_body(
    client_body: bytes, anthropic_version: str, *, without: tuple[str, ...], **fields: Any
) -> bytes:
    """Claude on a cloud's model service (Bedrock, Vertex AI): the same fixes, but the model
    is named in the URL, not the body (which must not hold it), and the API version is a body
    field (`anthropic_version`). `without`: more fields the service refuses; `fields`: more it
    takes in the body (e.g. Bedrock's `anthropic_beta`)."""
    payload = decode_json_object(client_body)
    payload.pop("model", None)
    for name in without:
        payload.pop(name, None)
    _fix_history(payload)
    payload["anthropic_version"] = anthropic_version
    payload.update(fields)
    return orjson.dumps(payload)


def _fix_history(payload: dict[str, Any]) -> bool:
    """Fixes 2-4 of the module docstring; True when anything changed."""
    messages = payload.get("messages")
    if not isinstance(messages, list):
        return False
    sampling = [name for name in SAMPLING_PARAMETERS if name in payload]  # null ones too
    for name in sampling:
        del payload[name]
    changed = bool(sampling)
    changed |= _strip_blocks(messages, _is_foreign_thinking)
    changed |= _strip_blocks(messages, _is_blank_text)
    changed |= _disable_thinking_if_unsatisfiable(payload, messages)
    return changed


def _strip_blocks(messages: list[Any], unwanted: Callable[[Any], bool]) -> bool:
    """Remove the unwanted blocks; True when any was. A message left with nothing is kept as
    it came (Anthropic refuses an empty turn too, and then in its own words)."""
    stripped = False
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        kept = [block for block in content if not unwanted(block)]
        if kept and len(kept) != len(content):
            message["content"] = kept
            stripped = True
    return stripped


def _is_foreign_thinking(block: Any) -> bool:
    return (
        isinstance(block, dict)
        and block.get("type") == "thinking"
        and not is_anthropic_signature(block.get("signature"))
    )


def _is_blank_text(block: Any) -> bool:
    return (
        isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
        and not block["text"].strip()
    )


def _last_assistant(messages: list[Any]) -> dict[str, Any] | None:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "assistant":
            return message
    return None


def _disable_thinking_if_unsatisfiable(payload: dict[str, Any], messages: list[Any]) -> bool:
    """Anthropic answers 400 ("a final `assistant` message must start with a thinking block")
    when thinking is on and the assistant turn of an unfinished tool loop opens with no
    thinking block. No valid block can take its place when that turn came from a provider
    that returns no thinking (OpenAI) or whose thinking was stripped above (Gemini's), so
    thinking is turned off for this one request, the remedy Anthropic's message names; the
    next turn thinks again. Context edits that clear thinking go with it: Anthropic refuses
    them without thinking ("`clear_thinking_20251015` strategy requires `thinking`")."""
    thinking = payload.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") == "disabled":
        return False
    message = _last_assistant(messages)
    content = message.get("content") if message is not None else None
    if not isinstance(content, list) or not any(
        isinstance(block, dict) and block.get("type") == "tool_use" for block in content
    ):
        return False
    first = content[0] if content else None
    if isinstance(first, dict) and first.get("type") in _THINKING_TYPES:
        return False
    del payload["thinking"]
    management = payload.get("context_management")
    if isinstance(management, dict) and isinstance(management.get("edits"), list):
        management["edits"] = [e for e in management["edits"] if not _clears_thinking(e)]
    return True


def _clears_thinking(edit: Any) -> bool:
    kind = edit.get("type") if isinstance(edit, dict) else None
    return isinstance(kind, str) and kind.startswith("clear_thinking")
