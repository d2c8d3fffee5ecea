"""Responses `instructions` and `input` items -> Anthropic `system` and `messages`.

System and developer messages are hoisted into `system` in their order, after `instructions`.
Items the model produced (reasoning, assistant messages, function, custom and local shell
calls, a namespaced call under its flat tool name) make assistant turns, their thinking
first as Anthropic requires; tool outputs and user messages make user turns, tool results
first. Adjacent items of one role merge into one turn, since Anthropic wants the roles to
alternate.

A reasoning item carries our own earlier answer's thinking block: its `encrypted_content` is
the block's signature (or, prefixed with REDACTED, a redacted_thinking block's data), so it
survives the round trip without any state kept here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

import orjson

from ...errors import EMPTY_MESSAGES, InvalidRequest
from ..openai_chat.shapes import as_list, as_object, as_str
from .shapes import check_keys
from .tools import CUSTOM_INPUT, namespaced_name

Block = dict[str, Any]
Role = Literal["user", "assistant"]
REDACTED = "redacted_thinking:"

# Item fields with no effect on the answer, dropped, and why.
DROPPED_ITEM_FIELDS = {
    "id": "an item's id at OpenAI; calls are matched by call_id",
    "status": "an earlier item's completion status",
    "annotations": "citations of an earlier answer; the text they annotate is kept",
    "logprobs": "log probabilities of an earlier answer",
    "phase": "Codex's commentary/final marker of an earlier answer",
    "content (of a reasoning item)": (
        "raw reasoning text of another server; ours carry the thinking in summary"
    ),
    "name, namespace (of a tool output)": "outputs are matched to their calls by call_id",
}
# Items dropped, and why.
DROPPED_ITEMS = {
    "reasoning without encrypted_content": (
        "reasoning from another server: Anthropic takes only thinking it signed"
    ),
    "web_search_call": (
        "an earlier search; Anthropic replays one only with its encrypted results, which the "
        "item lacks, and the answer that followed carries what was found"
    ),
}
_MESSAGE_KEYS = frozenset({"type", "role", "content", "id", "status", "phase"})
_CALL_KEYS = frozenset({"type", "id", "call_id", "name", "namespace", "status"})
_IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_DATA_URL = re.compile(r"data:([^;,]*);base64,(.*)", re.DOTALL)


def to_anthropic_system(instructions: Any, hoisted: list[Block]) -> str | list[Block] | None:
    blocks: list[Block] = []
    if instructions is not None and as_str(instructions, "instructions").strip():
        blocks.append({"type": "text", "text": instructions})
    blocks.extend(hoisted)
    if not blocks:
        return None
    if len(blocks) == 1:
        text: str = blocks[0]["text"]
        return text
    return blocks


def to_anthropic_messages(
    value: Any, history: Sequence[Block] = ()
) -> tuple[list[Block], list[Block]]:
    """The hoisted system blocks and the Anthropic messages: `history` (the messages of a
    previous response, ai_proxy.ingress.openai_responses.history), then `value`'s."""
    if isinstance(value, str) and not history:
        if not value.strip():
            raise InvalidRequest(EMPTY_MESSAGES)
        return [], [{"role": "user", "content": value}]
    system: list[Block] = []
    # Copies: merging the first new item into the last earlier turn must not change history.
    turns: list[tuple[Role, list[Block]]] = [
        (message["role"], _content_blocks(message["content"])) for message in history
    ]
    items = [{"role": "user", "content": value}] if isinstance(value, str) else value
    for index, raw in enumerate(as_list(items, "input")):
        path = f"input[{index}]"
        item = as_object(raw, path)
        kind = item.get("type", "message")  # EasyInputMessage may leave out its type
        match kind:
            case "message":
                role, blocks = _message(item, path)
                if role == "system":
                    system.extend(blocks)
                else:
                    _append(turns, role, blocks)
            case "reasoning":
                _append(turns, "assistant", _reasoning(item, path))
            case "function_call":
                check_keys(item, _CALL_KEYS | {"arguments"}, path)
                _append(turns, "assistant", [_call(item, path, _arguments(item, path))])
            case "custom_tool_call":
                check_keys(item, _CALL_KEYS | {"input"}, path)
                text = as_str(item.get("input"), f"{path}.input")
                _append(turns, "assistant", [_call(item, path, {CUSTOM_INPUT: text})])
            case "local_shell_call":
                _append(turns, "assistant", [_shell_call(item, path)])
            case "function_call_output" | "custom_tool_call_output":
                keys = frozenset({"type", "id", "call_id", "output", "status", "name", "namespace"})
                check_keys(item, keys, path)
                call_id = as_str(item.get("call_id"), f"{path}.call_id")
                _append(turns, "user", [_result(call_id, item.get("output"), f"{path}.output")])
            case "local_shell_call_output":
                check_keys(item, frozenset({"type", "id", "output", "status"}), path)
                call_id = as_str(item.get("id"), f"{path}.id")
                _append(turns, "user", [_result(call_id, item.get("output"), f"{path}.output")])
            case "web_search_call":
                pass  # see DROPPED_ITEMS
            case "item_reference":
                raise InvalidRequest(
                    f"{path}: item_reference needs server-side state (stored items), which "
                    "this gateway does not keep; send the item itself"
                )
            case "compaction":
                raise InvalidRequest(
                    f"{path}: a compaction item is OpenAI's encrypted summary and can be read "
                    "only by OpenAI; compact the conversation locally instead"
                )
            case other:
                raise InvalidRequest(f"{path}.type: {other!r} items are not supported here")
    if not turns:
        raise InvalidRequest(EMPTY_MESSAGES)
    return system, [{"role": role, "content": _ordered(role, blocks)} for role, blocks in turns]


def _content_blocks(content: str | list[Block]) -> list[Block]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def _append(turns: list[tuple[Role, list[Block]]], role: Role, blocks: list[Block]) -> None:
    if not blocks:
        return
    if turns and turns[-1][0] == role:
        turns[-1][1].extend(blocks)
    else:
        turns.append((role, blocks))


def _ordered(role: Role, blocks: list[Block]) -> list[Block]:
    """Thinking first in an assistant turn, tool results first in a user turn (both what
    Anthropic requires); the order within each group is kept."""
    first = {"thinking", "redacted_thinking"} if role == "assistant" else {"tool_result"}
    return sorted(blocks, key=lambda block: block["type"] not in first)


def _message(item: dict[str, Any], path: str) -> tuple[Role | Literal["system"], list[Block]]:
    check_keys(item, _MESSAGE_KEYS, path)
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise InvalidRequest(
            f"{path}.role: expected one of assistant, developer, system, user, got {role!r}"
        )
    content = item.get("content")
    if role in ("system", "developer"):
        return "system", _texts(content, f"{path}.content", ("input_text",))
    if role == "assistant":
        return "assistant", _texts(
            content, f"{path}.content", ("output_text", "refusal", "input_text")
        )
    return "user", _user_content(content, f"{path}.content")


def _texts(content: Any, path: str, kinds: tuple[str, ...]) -> list[Block]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    blocks: list[Block] = []
    for index, raw in enumerate(as_list(content, path)):
        part_path = f"{path}[{index}]"
        part = as_object(raw, part_path)
        kind = part.get("type")
        if kind not in kinds:
            raise InvalidRequest(
                f"{part_path}.type: expected one of {', '.join(kinds)} here, got {kind!r}"
            )
        field = "refusal" if kind == "refusal" else "text"
        check_keys(part, frozenset({"type", field, "annotations", "logprobs"}), part_path)
        text = as_str(part.get(field), f"{part_path}.{field}")
        if text.strip():
            blocks.append({"type": "text", "text": text})
    return blocks


def _user_content(content: Any, path: str) -> list[Block]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    blocks: list[Block] = []
    for index, raw in enumerate(as_list(content, path)):
        blocks.extend(_part(as_object(raw, f"{path}[{index}]"), f"{path}[{index}]"))
    return blocks


def _part(part: dict[str, Any], path: str) -> list[Block]:
    match part.get("type"):
        case "input_text" | "output_text":
            check_keys(part, frozenset({"type", "text", "annotations", "logprobs"}), path)
            text = as_str(part.get("text"), f"{path}.text")
            return [{"type": "text", "text": text}] if text.strip() else []
        case "input_image":
            check_keys(part, frozenset({"type", "image_url", "file_id", "detail"}), path)
            return [_image(part, path)]
        case "input_file":
            keys = frozenset({"type", "file_data", "file_id", "file_url", "filename", "detail"})
            check_keys(part, keys, path)
            return [_file(part, path)]
        case other:
            raise InvalidRequest(f"{path}.type: {other!r} content is not supported here")


def _image(part: dict[str, Any], path: str) -> Block:
    if part.get("file_id") is not None:
        raise InvalidRequest(f"{path}.file_id: files stored at OpenAI cannot be read here")
    url = as_str(part.get("image_url"), f"{path}.image_url")
    match = _DATA_URL.fullmatch(url)
    if match is None:
        if not url.startswith(("https://", "http://")):
            raise InvalidRequest(f"{path}.image_url: expected a data: URL or an http(s) URL")
        return {"type": "image", "source": {"type": "url", "url": url}}
    media_type, data = match.groups()
    if media_type not in _IMAGE_MEDIA_TYPES:
        raise InvalidRequest(
            f"{path}.image_url: media type {media_type!r} is not one of "
            f"{', '.join(sorted(_IMAGE_MEDIA_TYPES))}"
        )
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _file(part: dict[str, Any], path: str) -> Block:
    if part.get("file_id") is not None:
        raise InvalidRequest(f"{path}.file_id: files stored at OpenAI cannot be read here")
    block: Block
    if part.get("file_url") is not None:
        url = as_str(part["file_url"], f"{path}.file_url")
        block = {"type": "document", "source": {"type": "url", "url": url}}
    else:
        data = as_str(part.get("file_data"), f"{path}.file_data")
        match = _DATA_URL.fullmatch(data)
        media_type, payload = match.groups() if match else ("application/pdf", data)
        if media_type != "application/pdf":
            raise InvalidRequest(
                f"{path}.file_data: only PDF files are supported, not {media_type!r}"
            )
        block = {
            "type": "document",
            "source": {"type": "base64", "media_type": media_type, "data": payload},
        }
    if part.get("filename") is not None:
        block["title"] = as_str(part["filename"], f"{path}.filename")
    return block


def _reasoning(item: dict[str, Any], path: str) -> list[Block]:
    keys = frozenset({"type", "id", "summary", "content", "encrypted_content", "status"})
    check_keys(item, keys, path)
    encrypted = item.get("encrypted_content")
    summary = item.get("summary")
    texts = [
        as_str(
            as_object(part, f"{path}.summary[{index}]").get("text"), f"{path}.summary[{index}].text"
        )
        for index, part in enumerate(
            as_list(summary if summary is not None else [], f"{path}.summary")
        )
    ]
    if encrypted is None:
        return []  # see DROPPED_ITEMS
    signature = as_str(encrypted, f"{path}.encrypted_content")
    if signature.startswith(REDACTED):
        return [{"type": "redacted_thinking", "data": signature.removeprefix(REDACTED)}]
    return [{"type": "thinking", "thinking": "".join(texts), "signature": signature}]


def _call(item: dict[str, Any], path: str, arguments: dict[str, Any]) -> Block:
    name = as_str(item.get("name"), f"{path}.name")
    if item.get("namespace") is not None:
        name = namespaced_name(as_str(item["namespace"], f"{path}.namespace"), name)
    return {
        "type": "tool_use",
        "id": as_str(item.get("call_id"), f"{path}.call_id"),
        "name": name,
        "input": arguments,
    }


def _arguments(item: dict[str, Any], path: str) -> dict[str, Any]:
    text = as_str(item.get("arguments"), f"{path}.arguments")
    try:
        value = orjson.loads(text) if text.strip() else {}
    except orjson.JSONDecodeError as error:
        raise InvalidRequest(f"{path}.arguments: not valid JSON ({error})") from None
    return as_object(value, f"{path}.arguments")


def _shell_call(item: dict[str, Any], path: str) -> Block:
    check_keys(item, frozenset({"type", "id", "call_id", "action", "status"}), path)
    action = as_object(item.get("action"), f"{path}.action")
    if action.get("type") != "exec":
        raise InvalidRequest(f"{path}.action.type: expected 'exec', got {action.get('type')!r}")
    call_id = item.get("call_id") if item.get("call_id") is not None else item.get("id")
    return {
        "type": "tool_use",
        "id": as_str(call_id, f"{path}.call_id"),
        "name": "local_shell",
        "input": {
            key: value for key, value in action.items() if key != "type" and value is not None
        },
    }


def _result(call_id: str, output: Any, path: str) -> Block:
    if isinstance(output, str):
        return {"type": "tool_result", "tool_use_id": call_id, "content": output}
    content: list[Block] = []
    for index, raw in enumerate(as_list(output, path)):
        content.extend(_part(as_object(raw, f"{path}[{index}]"), f"{path}[{index}]"))
    return {"type": "tool_result", "tool_use_id": call_id, "content": content}
