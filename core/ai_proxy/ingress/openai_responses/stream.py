"""Anthropic stream events -> Responses semantic events (`event: <type>` SSE frames).

Each content block is one output item at its own output_index (the block's index): text a
message item with one output_text part, thinking a reasoning item with one summary part,
tool_use a function_call item whose arguments stream as deltas. Custom and local shell calls
have their input only once whole (it arrives as JSON fragments of a wrapping object), so
their items are announced at the start and completed at the block's stop. The closing
response.completed (or .incomplete) carries the whole response, built by answer.py from the
events folded into a message, so it matches a non-streamed answer exactly.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic_core import from_json

from ...anthropic.accumulate import accumulate
from ..base import IngressCall, IngressStream
from .answer import output_text, to_output_item, to_response
from .errors import to_response_error
from .request import ResponsesRequest

Event = dict[str, Any]
PING = b": ping\n\n"


class ResponsesStream(IngressStream):
    def __init__(self, call: IngressCall, request: ResponsesRequest) -> None:
        self._call = call
        self._request = request
        self._events: list[Event] = []  # every Anthropic event, folded at the end
        self._sequence = 0
        self._frames: list[bytes] = []
        # Each block as far as it has come; tool input as its JSON fragments until its stop.
        self._blocks: dict[int, dict[str, Any]] = {}
        self._json: dict[int, list[str]] = {}
        self._ended = False
        # The whole answer, once message_stop has come (what a previous_response_id continues).
        self.message: dict[str, Any] | None = None

    def feed(self, event: dict[str, Any]) -> bytes:
        kind = event.get("type")
        if kind == "ping":
            return PING
        if self._ended:
            return b""
        if kind == "error":
            self._failed(event)
        else:
            self._events.append(event)
            self._translate(event)
        frames, self._frames = b"".join(self._frames), []
        return frames

    def finish(self) -> bytes:
        return b""

    def _emit(self, kind: str, **fields: Any) -> None:
        payload = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        self._frames.append(
            b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
        )

    def _translate(self, event: Event) -> None:
        match event.get("type"):
            case "message_start":
                response = to_response(None, self._call, self._request, "in_progress")
                self._emit("response.created", response=response)
                self._emit("response.in_progress", response=response)
            case "content_block_start":
                self._start(event["index"], event["content_block"])
            case "content_block_delta":
                self._delta(event["index"], event["delta"])
            case "content_block_stop":
                self._stop(event["index"])
            case "message_stop":
                self.message = message = accumulate(self._events)
                response = to_response(message, self._call, self._request, "completed")
                self._emit(f"response.{response['status']}", response=response)
                self._ended = True

    def _item(self, index: int, status: str) -> dict[str, Any] | None:
        block = self._blocks.get(index)
        if block is None:
            return None
        return to_output_item(block, index, self._call, self._request.kinds, status)

    def _start(self, index: int, block: dict[str, Any]) -> None:
        self._blocks[index] = dict(block)
        item = self._item(index, "in_progress")
        if item is None:
            return
        if item["type"] == "reasoning":
            item = {**item, "summary": [], "encrypted_content": None}
        if item["type"] == "message":
            item = {**item, "content": []}
        if item["type"] == "function_call":
            item = {**item, "arguments": ""}
        if item["type"] == "custom_tool_call":
            item = {**item, "input": ""}
        self._emit("response.output_item.added", output_index=index, item=item)
        ids = {"item_id": item["id"], "output_index": index}
        if item["type"] == "message":
            self._emit("response.content_part.added", **ids, content_index=0, part=output_text(""))
        elif item["type"] == "reasoning" and block.get("type") == "thinking":
            part = {"type": "summary_text", "text": ""}
            self._emit("response.reasoning_summary_part.added", **ids, summary_index=0, part=part)

    def _delta(self, index: int, delta: dict[str, Any]) -> None:
        block = self._blocks.get(index)
        if block is None:
            return
        match delta.get("type"):
            case "text_delta":
                block["text"] = block.get("text", "") + delta["text"]
            case "thinking_delta":
                block["thinking"] = block.get("thinking", "") + delta["thinking"]
            case "signature_delta":
                block["signature"] = block.get("signature", "") + delta["signature"]
            case "input_json_delta":
                self._json.setdefault(index, []).append(delta["partial_json"])
        item = self._item(index, "in_progress")
        if item is None:
            return
        ids = {"item_id": item["id"], "output_index": index}
        match delta.get("type"):
            case "text_delta":
                self._emit(
                    "response.output_text.delta",
                    **ids,
                    content_index=0,
                    delta=delta["text"],
                    logprobs=[],
                )
            case "thinking_delta":
                self._emit(
                    "response.reasoning_summary_text.delta",
                    **ids,
                    summary_index=0,
                    delta=delta["thinking"],
                )
            case "input_json_delta" if item["type"] == "function_call":
                self._emit(
                    "response.function_call_arguments.delta", **ids, delta=delta["partial_json"]
                )

    def _stop(self, index: int) -> None:
        fragments = self._json.pop(index, None)
        if fragments is not None and index in self._blocks:
            self._blocks[index]["input"] = _parse_input("".join(fragments))
        item = self._item(index, "completed")
        if item is None:
            return
        ids = {"item_id": item["id"], "output_index": index}
        match item["type"]:
            case "message":
                part = item["content"][0]
                self._emit(
                    "response.output_text.done",
                    **ids,
                    content_index=0,
                    text=part["text"],
                    logprobs=[],
                )
                self._emit("response.content_part.done", **ids, content_index=0, part=part)
            case "reasoning" if item["summary"]:
                part = item["summary"][0]
                self._emit(
                    "response.reasoning_summary_text.done",
                    **ids,
                    summary_index=0,
                    text=part["text"],
                )
                self._emit(
                    "response.reasoning_summary_part.done", **ids, summary_index=0, part=part
                )
            case "function_call":
                self._emit(
                    "response.function_call_arguments.done",
                    **ids,
                    name=item["name"],
                    arguments=item["arguments"],
                )
            case "custom_tool_call":
                self._emit("response.custom_tool_call_input.delta", **ids, delta=item["input"])
                self._emit("response.custom_tool_call_input.done", **ids, input=item["input"])
        self._emit("response.output_item.done", output_index=index, item=item)

    def _failed(self, event: Event) -> None:
        """A failure after the 200: response.failed, the response's error set (what Codex
        reads: it retries rate_limit_exceeded and server_error)."""
        message = accumulate(self._events) if self._events else None
        response = to_response(message, self._call, self._request, "failed")
        response.update(status="failed", incomplete_details=None, error=to_response_error(event))
        self._emit("response.failed", response=response)
        self._ended = True


def _parse_input(text: str) -> Any:
    """Tool input JSON; cut short by max_tokens, whatever of it parses (as accumulate does)."""
    try:
        return from_json(text, allow_partial=True) if text.strip() else {}
    except ValueError:
        return {}
