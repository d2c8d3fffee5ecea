"""An Anthropic message (the Messages API's JSON answer) -> a `chat.completion` object.

Thinking is returned as the message's `reasoning_content`, the field OpenAI-compatible
servers use for reasoning text (the openai SDK keeps fields its types do not name); Chat
Completions itself has no place for it. Anthropic's tool_use ids are the tool call ids, so
the client's next request answers them by the same id.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..base import IngressCall

# Anthropic stop_reason -> Chat Completions finish_reason. pause_turn only follows a server
# tool, which this endpoint never declares; an answer that stops there has stopped.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def completion_id(call: IngressCall) -> str:
    return f"chatcmpl-{call.request_id}"


def to_finish_reason(stop_reason: Any) -> str:
    return FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def to_chat_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic counts cache reads and writes apart from input_tokens; OpenAI's prompt_tokens
    includes them, and says how many of them were cached."""
    cache_read = _count(usage.get("cache_read_input_tokens"))
    cache_write = _count(usage.get("cache_creation_input_tokens"))
    prompt = _count(usage.get("input_tokens")) + cache_read + cache_write
    completion = _count(usage.get("output_tokens"))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read, "cache_write_tokens": cache_write},
    }


def to_chat_completion(message: dict[str, Any], call: IngressCall) -> dict[str, Any]:
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        match block.get("type"):
            case "text":
                texts.append(block.get("text", ""))
            case "thinking":
                thinking.append(block.get("thinking", ""))
            case "tool_use":
                calls.append(
                    {
                        "id": block.get("id", ""),
                        "type": "function",
                        "function": {
                            "name": block.get("name", ""),
                            "arguments": orjson.dumps(block.get("input") or {}).decode(),
                        },
                    }
                )
            # redacted_thinking has no readable text; server tool blocks never come (we
            # declare no server tools).
    reply: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": None,
    }
    if thinking:
        reply["reasoning_content"] = "".join(thinking)
    if calls:
        reply["tool_calls"] = calls
    return {
        "id": completion_id(call),
        "object": "chat.completion",
        "created": call.created,
        "model": call.client_model,
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": to_finish_reason(message.get("stop_reason")),
            }
        ],
        "usage": to_chat_usage(message.get("usage") or {}),
    }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
