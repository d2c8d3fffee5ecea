"""Anthropic stream events -> `chat.completion.chunk` SSE frames, one frame per event.

Tool calls are numbered by their own count (Chat Completions' `index` on a tool call delta),
not by Anthropic's content block index, which also counts text and thinking blocks. Usage
arrives in message_start (input, cache) and message_delta (output, sometimes final input);
it is sent, when the client asked (stream_options.include_usage), as a last chunk with no
choices, as OpenAI does. An `error` event becomes `data: {"error": ...}`, which the openai
SDK raises as an APIError, and nothing follows it, not even `[DONE]`.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..base import IngressCall, IngressStream
from .answer import completion_id, to_chat_usage, to_finish_reason
from .errors import error_object

PING = b": ping\n\n"
DONE = b"data: [DONE]\n\n"


class ChatStream(IngressStream):
    def __init__(self, call: IngressCall, *, include_usage: bool) -> None:
        self._call = call
        self._include_usage = include_usage
        self._usage: dict[str, Any] = {}
        # Anthropic content block index -> tool call index.
        self._tool_calls: dict[int, int] = {}
        self._failed = False

    def feed(self, event: dict[str, Any]) -> bytes:
        if self._failed:
            return b""
        match event.get("type"):
            case "message_start":
                message = event.get("message") or {}
                self._usage.update(message.get("usage") or {})
                return self._chunk({"role": "assistant", "content": ""})
            case "content_block_start":
                return self._block_start(event)
            case "content_block_delta":
                return self._block_delta(event)
            case "message_delta":
                self._usage.update(_known_counts(event.get("usage") or {}))
                reason = to_finish_reason((event.get("delta") or {}).get("stop_reason"))
                return self._chunk({}, finish_reason=reason)
            case "message_stop":
                if not self._include_usage:
                    return b""
                return self._frame(self._envelope([], usage=to_chat_usage(self._usage)))
            case "ping":
                return PING
            case "error":
                self._failed = True
                error = event.get("error") or {}
                message = str(error.get("message") or "the upstream stream failed")
                return self._frame(error_object(str(error.get("type") or ""), message))
            case _:
                return b""  # content_block_stop, and event types newer than this gateway

    def finish(self) -> bytes:
        return b"" if self._failed else DONE

    def _block_start(self, event: dict[str, Any]) -> bytes:
        block = event.get("content_block") or {}
        if block.get("type") == "tool_use":
            number = len(self._tool_calls)
            self._tool_calls[event.get("index", 0)] = number
            call = {
                "index": number,
                "id": block.get("id", ""),
                "type": "function",
                "function": {"name": block.get("name", ""), "arguments": ""},
            }
            return self._chunk({"tool_calls": [call]})
        if block.get("type") == "text" and block.get("text"):
            return self._chunk({"content": block["text"]})
        return b""

    def _block_delta(self, event: dict[str, Any]) -> bytes:
        delta = event.get("delta") or {}
        match delta.get("type"):
            case "text_delta":
                return self._chunk({"content": delta.get("text", "")})
            case "thinking_delta":
                return self._chunk({"reasoning_content": delta.get("thinking", "")})
            case "input_json_delta":
                number = self._tool_calls.get(event.get("index", 0))
                partial = delta.get("partial_json", "")
                if number is None or not partial:
                    return b""
                return self._chunk(
                    {"tool_calls": [{"index": number, "function": {"arguments": partial}}]}
                )
            case _:
                return b""  # signature_delta, citations_delta: nothing to show

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self._frame(self._envelope([choice]))

    def _envelope(self, choices: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": completion_id(self._call),
            "object": "chat.completion.chunk",
            "created": self._call.created,
            "model": self._call.client_model,
            "choices": choices,
        }
        if self._include_usage:
            # OpenAI sends usage: null in every chunk before the last when usage is asked for.
            chunk["usage"] = usage
        return chunk

    @staticmethod
    def _frame(payload: dict[str, Any]) -> bytes:
        return b"data: " + orjson.dumps(payload) + b"\n\n"


def _known_counts(usage: dict[str, Any]) -> dict[str, Any]:
    """message_delta's counts, the ones it sends as null left out (message_start's stand)."""
    return {name: value for name, value in usage.items() if value is not None}
