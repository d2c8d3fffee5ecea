"""An Anthropic message -> a Responses `response` object; each block one output item.

The stream (stream.py) builds its items with the same functions, so the items streamed and
the ones in its closing response.completed agree. Item ids derive from the request id and
the block's index, so both paths name an item alike without keeping anything.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..base import IngressCall
from .items import REDACTED
from .request import ResponsesRequest
from .tools import CUSTOM_INPUT, LOCAL_SHELL, WEB_SEARCH, ToolKinds

Item = dict[str, Any]
# Stop reasons that leave a response incomplete, and the reason it gives.
INCOMPLETE_REASONS = {
    "max_tokens": "max_output_tokens",
    "model_context_window_exceeded": "max_output_tokens",
    "refusal": "content_filter",
}


def response_id(call: IngressCall) -> str:
    return f"resp_{call.request_id}"


def item_id(prefix: str, call: IngressCall, index: int) -> str:
    return f"{prefix}_{call.request_id}_{index}"


def to_output_item(
    block: dict[str, Any], index: int, call: IngressCall, kinds: ToolKinds, status: str
) -> Item | None:
    """The output item for one content block; None for a block no item stands for."""
    match block.get("type"):
        case "text":
            return {
                "type": "message",
                "id": item_id("msg", call, index),
                "role": "assistant",
                "status": status,
                "content": [output_text(block.get("text", ""))],
            }
        case "thinking":
            text = block.get("thinking", "")
            return {
                "type": "reasoning",
                "id": item_id("rs", call, index),
                "summary": [{"type": "summary_text", "text": text}] if text else [],
                "encrypted_content": block.get("signature") or None,
            }
        case "redacted_thinking":
            return {
                "type": "reasoning",
                "id": item_id("rs", call, index),
                "summary": [],
                "encrypted_content": REDACTED + str(block.get("data", "")),
            }
        case "tool_use":
            return to_call_item(block, index, call, kinds, status)
        case "server_tool_use" if block.get("name") == WEB_SEARCH:
            query = (
                block.get("input", {}).get("query")
                if isinstance(block.get("input"), dict)
                else None
            )
            action: Item = {"type": "search"}
            if isinstance(query, str):
                action["query"] = query
            return {
                "type": "web_search_call",
                "id": item_id("ws", call, index),
                "status": status,
                "action": action,
            }
        case _:
            # web_search_tool_result: the results were the model's to read; the client sees
            # the call and the answer. No other server tool is ever declared here.
            return None


def output_text(text: str) -> Item:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def to_call_item(
    block: dict[str, Any], index: int, call: IngressCall, kinds: ToolKinds, status: str
) -> Item:
    name = str(block.get("name", ""))
    call_id = str(block.get("id", ""))
    arguments = block.get("input")
    if not isinstance(arguments, dict):
        arguments = {}
    # A namespace member's call names the member and its namespace apart, as OpenAI's does.
    namespace, member = kinds.namespaced.get(name, (None, name))
    named: Item = (
        {"name": member} if namespace is None else {"name": member, "namespace": namespace}
    )
    if name in kinds.custom:
        text = arguments.get(CUSTOM_INPUT)
        return {
            "type": "custom_tool_call",
            "id": item_id("ctc", call, index),
            "call_id": call_id,
            **named,
            "input": text if isinstance(text, str) else orjson.dumps(arguments).decode(),
            "status": status,
        }
    if kinds.local_shell and name == LOCAL_SHELL:
        return {
            "type": "local_shell_call",
            "id": item_id("lsh", call, index),
            "call_id": call_id,
            "action": {"type": "exec", **arguments, "env": arguments.get("env") or {}},
            "status": status,
        }
    return {
        "type": "function_call",
        "id": item_id("fc", call, index),
        "call_id": call_id,
        **named,
        "arguments": orjson.dumps(arguments).decode(),
        "status": status,
    }


def to_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic counts cache reads and writes apart from input_tokens; OpenAI's input_tokens
    includes them. Anthropic reports no separate count of thinking tokens."""
    cache_read = _count(usage.get("cache_read_input_tokens"))
    written = _count(usage.get("cache_creation_input_tokens"))
    prompt = _count(usage.get("input_tokens")) + cache_read + written
    output = _count(usage.get("output_tokens"))
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cache_read, "cache_write_tokens": written},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + output,
    }


def to_response(
    message: dict[str, Any] | None, call: IngressCall, request: ResponsesRequest, status: str
) -> dict[str, Any]:
    """The response object; `message` None for the in-progress one a stream starts with."""
    output: list[Item] = []
    incomplete = None
    usage = None
    if message is not None:
        for index, block in enumerate(message.get("content") or ()):
            if isinstance(block, dict):
                item = to_output_item(block, index, call, request.kinds, "completed")
                if item is not None:
                    output.append(item)
        reason = INCOMPLETE_REASONS.get(str(message.get("stop_reason")))
        if status == "completed" and reason is not None:
            status = "incomplete"
            incomplete = {"reason": reason}
        usage = to_usage(message.get("usage") or {})
    return {
        "id": response_id(call),
        "object": "response",
        "created_at": call.created,
        "status": status,
        "error": None,
        "incomplete_details": incomplete,
        "model": call.client_model,
        "output": output,
        "usage": usage,
        **request.echo,
    }


def to_response_json(
    message: dict[str, Any], call: IngressCall, request: ResponsesRequest
) -> bytes:
    return orjson.dumps(to_response(message, call, request, "completed"))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
