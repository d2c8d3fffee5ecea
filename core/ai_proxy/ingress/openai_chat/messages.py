"""Chat Completions `messages` -> Anthropic `system` and `messages`.

System and developer messages, wherever they stand, are hoisted into `system` in their order:
Chat Completions lets an instruction arrive mid-conversation, and `system` is the one place
every upstream of the Messages path reads instructions from. Tool messages become tool_result
blocks in a user turn. Anthropic wants user and assistant turns to alternate, so consecutive
turns of one role (tool results, then the user's next words) merge into one, tool results
first, as Anthropic requires of a turn answering tool calls.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import orjson

from ...errors import EMPTY_MESSAGES, InvalidRequest
from .shapes import as_list, as_object, as_str, check_keys

Block = dict[str, Any]
Role = Literal["user", "assistant"]

# Message fields with no effect on the answer we can give, dropped, and why.
DROPPED_MESSAGE_FIELDS = {
    "name": "Anthropic turns carry no participant name",
    "annotations": "URL citations of an earlier answer; the text they annotate is kept",
    "reasoning_content": (
        "our own answers' thinking, echoed back without the signature Anthropic needs to "
        "accept a thinking block"
    ),
}
# Content part fields dropped, and why.
DROPPED_PART_FIELDS = {
    "detail": "Anthropic has no image resolution setting; it sizes images itself",
}

_ROLE_FIELDS: dict[str, frozenset[str]] = {
    "system": frozenset({"role", "content", "name"}),
    "developer": frozenset({"role", "content", "name"}),
    "user": frozenset({"role", "content", "name"}),
    "assistant": frozenset(
        {
            "role",
            "content",
            "name",
            "refusal",
            "tool_calls",
            "audio",
            "function_call",
            "annotations",
            "reasoning_content",
        }
    ),
    "tool": frozenset({"role", "content", "tool_call_id"}),
}
_TEXT_PART = frozenset({"type", "text", "prompt_cache_breakpoint"})
_IMAGE_PART = frozenset({"type", "image_url", "prompt_cache_breakpoint"})
_FILE_PART = frozenset({"type", "file", "prompt_cache_breakpoint"})
_REFUSAL_PART = frozenset({"type", "refusal"})
_IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_DATA_URL = re.compile(r"data:([^;,]*);base64,(.*)", re.DOTALL)


def to_anthropic_messages(messages: Any) -> tuple[str | list[Block] | None, list[Block]]:
    """The `system` (None when there is none) and `messages` of the Anthropic request."""
    system: list[Block] = []
    turns: list[tuple[Role, list[Block]]] = []
    for index, raw in enumerate(as_list(messages, "messages")):
        path = f"messages[{index}]"
        message = as_object(raw, path)
        role = message.get("role")
        if role == "function":
            raise InvalidRequest(
                f"{path}.role: 'function' messages (the deprecated function calling) are not "
                "supported; use tools and 'tool' messages"
            )
        if not isinstance(role, str) or role not in _ROLE_FIELDS:
            raise InvalidRequest(
                f"{path}.role: expected one of {', '.join(sorted(_ROLE_FIELDS))}, got {role!r}"
            )
        check_keys(message, _ROLE_FIELDS[role], path)
        match role:
            case "system" | "developer":
                system.extend(_text_blocks(message.get("content"), f"{path}.content"))
            case "user":
                _append(turns, "user", _user_blocks(message.get("content"), f"{path}.content"))
            case "assistant":
                _append(turns, "assistant", _assistant_blocks(message, path))
            case "tool":
                _append(turns, "user", [_tool_result(message, path)])
    if not turns:
        raise InvalidRequest(EMPTY_MESSAGES)
    return _system(system), [
        {"role": role, "content": _results_first(blocks) if role == "user" else blocks}
        for role, blocks in turns
    ]


def _append(turns: list[tuple[Role, list[Block]]], role: Role, blocks: list[Block]) -> None:
    if not blocks:
        return  # a blank message: Anthropic refuses empty content
    if turns and turns[-1][0] == role:
        turns[-1][1].extend(blocks)
    else:
        turns.append((role, blocks))


def _results_first(blocks: list[Block]) -> list[Block]:
    return sorted(blocks, key=lambda block: block["type"] != "tool_result")


def _system(blocks: list[Block]) -> str | list[Block] | None:
    if not blocks:
        return None
    if len(blocks) == 1 and "cache_control" not in blocks[0]:
        text: str = blocks[0]["text"]
        return text
    return blocks


def _text_blocks(content: Any, path: str) -> list[Block]:
    """A string or text parts (system, developer and tool messages), blank text left out."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    blocks: list[Block] = []
    for index, raw in enumerate(as_list(content, path)):
        part = as_object(raw, f"{path}[{index}]")
        if part.get("type") != "text":
            raise InvalidRequest(
                f"{path}[{index}].type: expected 'text' here, got {part.get('type')!r}"
            )
        blocks.extend(_text_part(part, f"{path}[{index}]"))
    return blocks


def _text_part(part: dict[str, Any], path: str) -> list[Block]:
    check_keys(part, _TEXT_PART, path)
    text = as_str(part.get("text"), f"{path}.text")
    if not text.strip():
        return []
    return [_cached({"type": "text", "text": text}, part, path)]


def _cached(block: Block, part: dict[str, Any], path: str) -> Block:
    """A part's prompt_cache_breakpoint as the block's cache_control. The lifetimes differ
    (OpenAI's 30m/12h, Anthropic's 5m/1h); the default one is kept, caching being a saving,
    not something that changes the answer."""
    breakpoint_ = part.get("prompt_cache_breakpoint")
    if breakpoint_ is not None:
        as_object(breakpoint_, f"{path}.prompt_cache_breakpoint")
        block["cache_control"] = {"type": "ephemeral"}
    return block


def _user_blocks(content: Any, path: str) -> list[Block]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    blocks: list[Block] = []
    for index, raw in enumerate(as_list(content, path)):
        part_path = f"{path}[{index}]"
        part = as_object(raw, part_path)
        match part.get("type"):
            case "text":
                blocks.extend(_text_part(part, part_path))
            case "image_url":
                check_keys(part, _IMAGE_PART, part_path)
                blocks.append(_cached(_image(part.get("image_url"), part_path), part, part_path))
            case "file":
                check_keys(part, _FILE_PART, part_path)
                blocks.append(_cached(_document(part.get("file"), part_path), part, part_path))
            case "input_audio":
                raise InvalidRequest(f"{part_path}: audio input cannot be carried to Anthropic")
            case other:
                raise InvalidRequest(f"{part_path}.type: unknown content part type {other!r}")
    return blocks


def _image(value: Any, path: str) -> Block:
    path = f"{path}.image_url"
    image = as_object(value, path)
    check_keys(image, frozenset({"url", *DROPPED_PART_FIELDS}), path)
    url = as_str(image.get("url"), f"{path}.url")
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    data = _DATA_URL.fullmatch(url)
    if data is None:
        raise InvalidRequest(f"{path}.url: expected an http(s) URL or a base64 data: URL")
    media_type, encoded = data[1], data[2]
    if media_type not in _IMAGE_MEDIA_TYPES:
        raise InvalidRequest(
            f"{path}.url: image type {media_type!r} is not supported; "
            f"send one of {', '.join(sorted(_IMAGE_MEDIA_TYPES))}"
        )
    source = {"type": "base64", "media_type": media_type, "data": encoded}
    return {"type": "image", "source": source}


def _document(value: Any, path: str) -> Block:
    path = f"{path}.file"
    file = as_object(value, path)
    check_keys(file, frozenset({"file_data", "file_id", "filename"}), path)
    if file.get("file_id") is not None:
        raise InvalidRequest(
            f"{path}.file_id: files uploaded to OpenAI cannot be read here; send file_data"
        )
    data = as_str(file.get("file_data"), f"{path}.file_data")
    parsed = _DATA_URL.fullmatch(data)
    # Chat Completions reads PDFs only, and clients send either a data: URL or bare base64.
    if parsed is not None and parsed[1] != "application/pdf":
        raise InvalidRequest(
            f"{path}.file_data: only application/pdf files can be carried, got {parsed[1]!r}"
        )
    block: Block = {
        "type": "document",
        "source": {
            "type": "base64",
            "media_type": "application/pdf",
            "data": parsed[2] if parsed is not None else data,
        },
    }
    filename = file.get("filename")
    if filename is not None:
        block["title"] = as_str(filename, f"{path}.filename")
    return block


def _assistant_blocks(message: dict[str, Any], path: str) -> list[Block]:
    for field in ("audio", "function_call"):
        if message.get(field) is not None:
            raise InvalidRequest(
                f"{path}.{field}: cannot be carried to Anthropic (audio answers and the "
                "deprecated function calling have no equivalent)"
            )
    blocks = _assistant_text(message.get("content"), f"{path}.content")
    refusal = message.get("refusal")
    if refusal is not None and as_str(refusal, f"{path}.refusal").strip():
        blocks.append({"type": "text", "text": refusal})
    calls = message.get("tool_calls")
    if calls is not None:
        for index, call in enumerate(as_list(calls, f"{path}.tool_calls")):
            blocks.append(_tool_use(call, f"{path}.tool_calls[{index}]"))
    return blocks


def _assistant_text(content: Any, path: str) -> list[Block]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    blocks: list[Block] = []
    for index, raw in enumerate(as_list(content, path)):
        part_path = f"{path}[{index}]"
        part = as_object(raw, part_path)
        match part.get("type"):
            case "text":
                blocks.extend(_text_part(part, part_path))
            case "refusal":
                check_keys(part, _REFUSAL_PART, part_path)
                text = as_str(part.get("refusal"), f"{part_path}.refusal")
                if text.strip():
                    blocks.append({"type": "text", "text": text})
            case other:
                raise InvalidRequest(
                    f"{part_path}.type: expected 'text' or 'refusal' in an assistant message, "
                    f"got {other!r}"
                )
    return blocks


def _tool_use(value: Any, path: str) -> Block:
    call = as_object(value, path)
    if call.get("type") != "function":
        raise InvalidRequest(
            f"{path}.type: only 'function' tool calls can be carried, got {call.get('type')!r}"
        )
    check_keys(call, frozenset({"id", "type", "function"}), path)
    function = as_object(call.get("function"), f"{path}.function")
    check_keys(function, frozenset({"name", "arguments"}), f"{path}.function")
    arguments = as_str(function.get("arguments"), f"{path}.function.arguments")
    return {
        "type": "tool_use",
        "id": _call_id(call.get("id"), f"{path}.id"),
        "name": _name(function.get("name"), f"{path}.function.name"),
        "input": _arguments(arguments, f"{path}.function.arguments"),
    }


def _arguments(arguments: str, path: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}  # some clients send "" for a call without parameters
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError as error:
        raise InvalidRequest(f"{path}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{path}: expected a JSON object")
    return value


def _tool_result(message: dict[str, Any], path: str) -> Block:
    content = message.get("content")
    blocks = _text_blocks(content, f"{path}.content") if content is not None else []
    result: Block = {
        "type": "tool_result",
        "tool_use_id": _call_id(message.get("tool_call_id"), f"{path}.tool_call_id"),
    }
    if isinstance(content, str):
        result["content"] = content
    elif blocks:
        result["content"] = blocks
    return result


def _call_id(value: Any, path: str) -> str:
    call_id = as_str(value, path)
    if not call_id:
        raise InvalidRequest(f"{path}: must not be empty")
    return call_id


def _name(value: Any, path: str) -> str:
    name = as_str(value, path)
    if not name:
        raise InvalidRequest(f"{path}: must not be empty")
    return name
