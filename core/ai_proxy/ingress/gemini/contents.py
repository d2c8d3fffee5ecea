"""Gemini `contents` (and `systemInstruction`) -> Anthropic `messages` (and `system`).

Turns: `user` -> user, `model` -> assistant; consecutive turns of one role are merged, as
Anthropic wants them to alternate. Parts: text, images and PDFs (inline or by http(s) URL),
function calls and responses, and our thinking carried in `thoughtSignature` (thoughts.py).
Thought parts themselves are display only: the blocks they came from return in the signature.

Tool ids. Anthropic pairs a tool_result with its tool_use by id; Gemini's functionCall.id is
optional (the Gemini API itself rarely sets one) and its responses may name only the function.
A call without an id gets one derived from its place in the conversation, so the same history
yields the same ids on every turn (prompt caches hold), and a response without one answers the
first call of that name not yet answered in the model turn before it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from ...errors import InvalidRequest
from ..openai_chat.shapes import as_list, as_object, as_str
from .shapes import as_fields, check_keys
from .thoughts import from_thought_signature

Block = dict[str, Any]
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# Anthropic's pattern for tool_use ids.
_TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_PART_KEYS = frozenset(
    {
        "text",
        "thought",
        "thoughtSignature",
        "inlineData",
        "fileData",
        "functionCall",
        "functionResponse",
        "executableCode",
        "codeExecutionResult",
        "videoMetadata",
        "partMetadata",
        "mediaResolution",
    }
)
REFUSED_PARTS = {
    "executableCode": "Gemini's code execution has no equivalent on this gateway",
    "codeExecutionResult": "Gemini's code execution has no equivalent on this gateway",
    "videoMetadata": "video cannot be carried to the upstream models",
}


@dataclass(slots=True)
class _Calls:
    """The previous model turn's function calls not answered yet, as (tool_use id, name)."""

    open: list[tuple[str, str]] = field(default_factory=list)

    def answer(self, call_id: Any, name: str, path: str) -> str:
        wanted = _tool_id(call_id, path) if call_id else None
        for index, (known_id, known_name) in enumerate(self.open):
            if known_id == wanted or (wanted is None and known_name == name):
                del self.open[index]
                return known_id
        raise InvalidRequest(
            f"{path}: no function call named '{name}'"
            + (f" with id '{call_id}'" if call_id else "")
            + " in the model turn before it is waiting for this response"
        )


def to_anthropic_system(value: Any) -> list[Block] | None:
    if value is None:
        return None
    content = as_fields(value, "systemInstruction")
    check_keys(content, frozenset({"parts", "role"}), "systemInstruction")
    texts = []
    for index, part in enumerate(as_list(content.get("parts") or [], "systemInstruction.parts")):
        path = f"systemInstruction.parts[{index}]"
        part = as_fields(part, path)
        check_keys(part, frozenset({"text"}), path)
        text = as_str(part.get("text", ""), f"{path}.text")
        if text.strip():
            texts.append({"type": "text", "text": text})
    return texts or None


def to_anthropic_messages(value: Any) -> list[dict[str, Any]]:
    contents = as_list(value, "contents")
    if not contents:
        raise InvalidRequest("contents: at least one content is required")
    messages: list[dict[str, Any]] = []
    calls = _Calls()
    for turn, content in enumerate(contents):
        path = f"contents[{turn}]"
        content = as_fields(content, path)
        check_keys(content, frozenset({"role", "parts"}), path)
        role = content.get("role") or "user"
        parts = as_list(content.get("parts") or [], f"{path}.parts")
        if role not in ("user", "model"):
            raise InvalidRequest(f"{path}.role: expected 'user' or 'model', got {role!r}")
        blocks = _turn_blocks(parts, role, turn, calls, path)
        anthropic_role = "assistant" if role == "model" else "user"
        if role == "model":
            calls = _Calls([(b["id"], b["name"]) for b in blocks if b["type"] == "tool_use"])
        if not blocks:
            continue
        if messages and messages[-1]["role"] == anthropic_role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": anthropic_role, "content": blocks})
    for message in messages:
        if message["role"] == "user":
            # Anthropic wants a turn's tool results before anything else in it.
            message["content"].sort(key=lambda block: block["type"] != "tool_result")
    if not messages:
        raise InvalidRequest("contents: every content is empty")
    return messages


def _turn_blocks(parts: list[Any], role: str, turn: int, calls: _Calls, path: str) -> list[Block]:
    """One turn's parts as Anthropic blocks: a model turn calls functions and carries our
    thinking in its signatures, a user turn answers the calls of the model turn before it."""
    blocks: list[Block] = []
    for index, raw in enumerate(parts):
        part_path = f"{path}.parts[{index}]"
        part = _checked_part(raw, part_path)
        if role == "model":
            blocks.extend(from_thought_signature(part.get("thoughtSignature")))
        if part.get("thought"):
            continue  # shown to the user only; the block returns in a signature
        misplaced = "functionResponse" if role == "model" else "functionCall"
        if misplaced in part:
            raise InvalidRequest(f"{part_path}.{misplaced}: not in a '{role}' turn")
        if "functionCall" in part:
            blocks.append(_tool_use(part["functionCall"], f"{turn}_{index}", part_path))
        elif "functionResponse" in part:
            blocks.append(_tool_result(part["functionResponse"], calls, part_path))
        elif "text" in part:
            text = as_str(part["text"], f"{part_path}.text")
            if text.strip():
                blocks.append({"type": "text", "text": text})
        else:
            blocks.extend(_media_blocks(part, part_path))
    return blocks


def _checked_part(raw: Any, path: str) -> dict[str, Any]:
    part = as_fields(raw, path)
    check_keys(part, _PART_KEYS, path)
    for name, why in REFUSED_PARTS.items():
        if part.get(name) is not None:
            raise InvalidRequest(f"{path}.{name}: {why}")
    return part


def _tool_use(value: Any, place: str, path: str) -> Block:
    call = as_fields(value, f"{path}.functionCall")
    check_keys(call, frozenset({"id", "name", "args"}), f"{path}.functionCall")
    name = as_str(call.get("name"), f"{path}.functionCall.name")
    call_id = call.get("id")
    tool_id = _tool_id(call_id, f"{path}.functionCall.id") if call_id else f"toolu_gc{place}"
    args = as_object(call.get("args") or {}, f"{path}.functionCall.args")
    return {"type": "tool_use", "id": tool_id, "name": name, "input": args}


def _tool_id(value: Any, path: str) -> str:
    """The client's id when Anthropic takes it as is, else a stable stand-in derived from it."""
    call_id = as_str(value, path)
    if _TOOL_ID.match(call_id):
        return call_id
    return "toolu_" + hashlib.sha256(call_id.encode()).hexdigest()[:24]


def _tool_result(value: Any, calls: _Calls, path: str) -> Block:
    path = f"{path}.functionResponse"
    response = as_fields(value, path)
    check_keys(
        response, frozenset({"id", "name", "response", "parts", "willContinue", "scheduling"}), path
    )
    if response.get("willContinue"):
        raise InvalidRequest(f"{path}.willContinue: streamed function responses cannot be carried")
    name = as_str(response.get("name"), f"{path}.name")
    tool_use_id = calls.answer(response.get("id"), name, path)
    body = as_object(response.get("response") or {}, f"{path}.response")
    is_error = set(body) == {"error"}
    text = _response_text(body)
    content: list[Block] = [{"type": "text", "text": text}] if text.strip() else []
    for index, raw in enumerate(as_list(response.get("parts") or [], f"{path}.parts")):
        part_path = f"{path}.parts[{index}]"
        part = as_fields(raw, part_path)
        check_keys(part, frozenset({"inlineData", "fileData"}), part_path)
        content.extend(_media_blocks(part, part_path))
    result: Block = {"type": "tool_result", "tool_use_id": tool_use_id, "content": content}
    if is_error:
        result["is_error"] = True
    return result


def _response_text(body: dict[str, Any]) -> str:
    """`{"output": "..."}` and `{"error": "..."}` (the documented conventions) as their text;
    any other response as its JSON, which is what the model would read on Gemini."""
    if len(body) == 1:
        (only,) = body.values()
        if isinstance(only, str):
            return only
    return orjson.dumps(body).decode() if body else ""


def _media_blocks(part: dict[str, Any], path: str) -> list[Block]:
    if (inline := part.get("inlineData")) is not None:
        return [_inline_block(as_fields(inline, f"{path}.inlineData"), f"{path}.inlineData")]
    if (file := part.get("fileData")) is not None:
        return [_file_block(as_fields(file, f"{path}.fileData"), f"{path}.fileData")]
    return []  # a part with only metadata (partMetadata, thoughtSignature) says nothing


def _inline_block(data: dict[str, Any], path: str) -> Block:
    check_keys(data, frozenset({"mimeType", "data", "displayName"}), path)
    mime = as_str(data.get("mimeType"), f"{path}.mimeType").lower()
    encoded = as_str(data.get("data"), f"{path}.data")
    if mime in IMAGE_TYPES:
        return {"type": "image", "source": {"type": "base64", "media_type": mime, "data": encoded}}
    if mime == "application/pdf":
        return {
            "type": "document",
            "source": {"type": "base64", "media_type": mime, "data": encoded},
        }
    if mime.startswith("text/"):
        try:
            text = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"{path}.data: not base64-encoded UTF-8 text") from None
        return {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": text},
        }
    raise InvalidRequest(f"{path}.mimeType: '{mime}' cannot be carried (images, PDF and text can)")


def _file_block(data: dict[str, Any], path: str) -> Block:
    check_keys(data, frozenset({"mimeType", "fileUri", "displayName"}), path)
    uri = as_str(data.get("fileUri"), f"{path}.fileUri")
    if not uri.startswith(("https://", "http://")) or "generativelanguage.googleapis.com" in uri:
        raise InvalidRequest(
            f"{path}.fileUri: only a public http(s) URL can be read by every upstream (not "
            "Gemini Files API or gs:// URIs); send the data inline"
        )
    mime = as_str(data.get("mimeType") or "", f"{path}.mimeType").lower()
    if mime == "application/pdf":
        return {"type": "document", "source": {"type": "url", "url": uri}}
    if mime in IMAGE_TYPES or not mime:
        return {"type": "image", "source": {"type": "url", "url": uri}}
    raise InvalidRequest(f"{path}.mimeType: '{mime}' cannot be carried (images and PDF can)")
