"""Anthropic stream events -> streamed GenerateContentResponse chunks.

With `?alt=sse` each chunk is an SSE `data:` frame, as Gemini sends them (no event names);
without it the chunks are the elements of one JSON array, written as they come, as Gemini's
default stream. Text and thoughts go out per delta; a function call goes out whole when its
block ends (Gemini never splits one). The last chunk carries finishReason and the final usage.
A failure after the 200 is an `{"error": ...}` chunk, which google-genai raises as an APIError.
Keep-alive is a blank line: google-genai would read an SSE comment as the start of a JSON
error body, and in the array form only whitespace may come between elements.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..base import IngressCall, IngressStream
from .answer import Grounding, Part, Signer, function_call, response_envelope, to_finish_reason
from .errors import google_error_from_event

KEEP_ALIVE = b"\r\n"


class GeminiStream(IngressStream):
    def __init__(self, call: IngressCall, *, include_thoughts: bool, sse: bool) -> None:
        self._call = call
        self._include_thoughts = include_thoughts
        self._sse = sse
        self._sent_any = False
        self._usage: dict[str, Any] = {}
        self._stop_reason: Any = None
        self._signer = Signer()
        self._grounding = Grounding()
        # Anthropic content block index -> the block as it builds up (tool input as JSON text).
        self._blocks: dict[int, dict[str, Any]] = {}
        self._failed = False

    def feed(self, event: dict[str, Any]) -> bytes:
        if self._failed:
            return b""
        match event.get("type"):
            case "message_start":
                self._usage.update((event.get("message") or {}).get("usage") or {})
            case "content_block_start":
                return self._block_start(event)
            case "content_block_delta":
                return self._block_delta(event)
            case "content_block_stop":
                return self._block_stop(event)
            case "message_delta":
                usage = event.get("usage") or {}
                self._usage.update({k: v for k, v in usage.items() if v is not None})
                self._stop_reason = (event.get("delta") or {}).get("stop_reason")
            case "message_stop":
                return self._last_chunk()
            case "ping":
                return KEEP_ALIVE
            case "error":
                self._failed = True
                return self._frame(google_error_from_event(event))
        return b""

    def finish(self) -> bytes:
        if self._sse:
            return b""
        return b"]" if self._sent_any else b"[]"

    def _block_start(self, event: dict[str, Any]) -> bytes:
        block = dict(event.get("content_block") or {})
        kind = block.get("type")
        if kind == "redacted_thinking":
            self._signer.pending.append(block)
        elif kind == "text":
            if block.get("text"):
                return self._parts([self._signer.sign({"text": block["text"]})])
        elif kind in ("thinking", "tool_use", "server_tool_use"):
            block["partial_json"] = ""
            self._blocks[event.get("index", 0)] = block
        else:
            self._grounding.add(block)
        return b""

    def _block_delta(self, event: dict[str, Any]) -> bytes:
        delta = event.get("delta") or {}
        block = self._blocks.get(event.get("index", 0))
        match delta.get("type"):
            case "text_delta":
                text = delta.get("text", "")
                return self._parts([self._signer.sign({"text": text})]) if text else b""
            case "thinking_delta" if block is not None:
                text = delta.get("thinking", "")
                block["thinking"] = block.get("thinking", "") + text
                if self._include_thoughts and text:
                    return self._parts([{"text": text, "thought": True}])
            case "signature_delta" if block is not None:
                block["signature"] = block.get("signature", "") + delta.get("signature", "")
            case "input_json_delta" if block is not None:
                block["partial_json"] += delta.get("partial_json", "")
        return b""

    def _block_stop(self, event: dict[str, Any]) -> bytes:
        block = self._blocks.pop(event.get("index", 0), None)
        if block is None:
            return b""
        partial = block.pop("partial_json")
        arguments = orjson.loads(partial) if partial else block.get("input") or {}
        match block.get("type"):
            case "thinking":
                self._signer.pending.append(block)
            case "tool_use":
                return self._parts([self._signer.sign(function_call(block, arguments))])
            case _:
                self._grounding.add({**block, "input": arguments})
        return b""

    def _last_chunk(self) -> bytes:
        part = self._signer.leftover()
        parts = [part] if part is not None else [{"text": ""}]
        chunk = response_envelope(
            self._call, parts, self._usage, to_finish_reason(self._stop_reason)
        )
        if (metadata := self._grounding.metadata()) is not None:
            chunk["candidates"][0]["groundingMetadata"] = metadata
        return self._frame(chunk)

    def _parts(self, parts: list[Part]) -> bytes:
        return self._frame(response_envelope(self._call, parts, self._usage))

    def _frame(self, chunk: dict[str, Any]) -> bytes:
        data = orjson.dumps(chunk)
        if self._sse:
            return b"data: " + data + b"\r\n\r\n"
        opening = b",\r\n" if self._sent_any else b"["
        self._sent_any = True
        return opening + data
