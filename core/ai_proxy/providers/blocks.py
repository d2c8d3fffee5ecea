"""Anthropic stream bookkeeping shared by every translating provider.

A provider only says what arrived ("text", "a tool call started", "its arguments"); this class
turns that into Anthropic's exact event sequence: one `message_start`, content blocks with
consecutive indexes, each opened before its deltas and closed before the next one opens, then
`message_delta` and `message_stop`. Non-streaming responses are produced by accumulating the
very same events (see `anthropic.accumulate`), so both paths agree by construction.

Server tools (web search, web fetch) follow Anthropic's stream: the `server_tool_use` block
streams its input as `input_json_delta`, its result block arrives whole in `content_block_start`
and closes at once, and a cited span of text is a text block of its own whose citations come
as `citations_delta` events before its text.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import orjson

Event = dict[str, Any]


class BlockKind(Enum):
    TEXT = "text"
    THINKING = "thinking"
    TOOL_USE = "tool_use"
    SERVER_TOOL_USE = "server_tool_use"
    SERVER_TOOL_RESULT = "server_tool_result"


# Kinds whose next piece continues the open block instead of starting a new one.
_CONTINUED = frozenset({BlockKind.TEXT, BlockKind.THINKING})


class MessageStream:
    __slots__ = ("_index", "_kind", "_message_id", "_model", "started", "stopped")

    def __init__(self, message_id: str, model: str) -> None:
        self._message_id = message_id
        self._model = model
        self._index = -1
        self._kind: BlockKind | None = None
        self.started = False
        self.stopped = False

    @property
    def open_kind(self) -> BlockKind | None:
        return self._kind

    def start(self, usage: dict[str, int]) -> list[Event]:
        self.started = True
        message: Event = {
            "id": self._message_id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return [{"type": "message_start", "message": message}]

    def text(self, text: str) -> list[Event]:
        if not text:
            return []
        events = self._open(BlockKind.TEXT, {"type": "text", "text": ""})
        events.append(self._delta({"type": "text_delta", "text": text}))
        return events

    def thinking(self, text: str) -> list[Event]:
        events = self._open(
            BlockKind.THINKING, {"type": "thinking", "thinking": "", "signature": ""}
        )
        if text:
            events.append(self._delta({"type": "thinking_delta", "thinking": text}))
        return events

    def signature(self, signature: str) -> list[Event]:
        """Attach a signature to the open thinking block (opening an empty one if needed)."""
        events = self.thinking("")
        events.append(self._delta({"type": "signature_delta", "signature": signature}))
        events.extend(self.close_block())
        return events

    def tool_use(self, tool_id: str, name: str) -> list[Event]:
        events = self.close_block()
        events.extend(
            self._open(
                BlockKind.TOOL_USE,
                {"type": "tool_use", "id": tool_id, "name": name, "input": {}},
            )
        )
        return events

    def tool_input(self, partial_json: str) -> list[Event]:
        if not partial_json:
            return []
        return [self._delta({"type": "input_json_delta", "partial_json": partial_json})]

    def cited_text(self, text: str, citations: list[Event]) -> list[Event]:
        """A span of text with the sources that support it: always a block of its own."""
        if not text:
            return []
        events = self.close_block()  # never continues the open text block
        events.extend(self._open(BlockKind.TEXT, {"type": "text", "text": ""}))
        events.extend(
            self._delta({"type": "citations_delta", "citation": citation}) for citation in citations
        )
        events.append(self._delta({"type": "text_delta", "text": text}))
        events.extend(self.close_block())
        return events

    def server_tool_use(self, tool_id: str, name: str, tool_input: dict[str, Any]) -> list[Event]:
        """A call the upstream ran itself (Anthropic's web_search, web_fetch), input and all."""
        events = self._open(
            BlockKind.SERVER_TOOL_USE,
            {"type": "server_tool_use", "id": tool_id, "name": name, "input": {}},
        )
        events.append(
            self._delta(
                {"type": "input_json_delta", "partial_json": orjson.dumps(tool_input).decode()}
            )
        )
        events.extend(self.close_block())
        return events

    def web_search_result(self, tool_use_id: str, content: list[Event]) -> list[Event]:
        return self._whole_block(
            {"type": "web_search_tool_result", "tool_use_id": tool_use_id, "content": content}
        )

    def web_fetch_result(self, tool_use_id: str, content: Event) -> list[Event]:
        return self._whole_block(
            {"type": "web_fetch_tool_result", "tool_use_id": tool_use_id, "content": content}
        )

    def close_block(self) -> list[Event]:
        if self._kind is None:
            return []
        self._kind = None
        return [{"type": "content_block_stop", "index": self._index}]

    def stop(
        self, stop_reason: str, usage: dict[str, Any], stop_sequence: str | None = None
    ) -> list[Event]:
        self.stopped = True
        events = self.close_block()
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
                "usage": usage,
            }
        )
        events.append({"type": "message_stop"})
        return events

    def _whole_block(self, block: Event) -> list[Event]:
        events = self._open(BlockKind.SERVER_TOOL_RESULT, block)
        events.extend(self.close_block())
        return events

    def _open(self, kind: BlockKind, block: Event) -> list[Event]:
        if self._kind is kind and kind in _CONTINUED:
            return []
        events = self.close_block()
        self._index += 1
        self._kind = kind
        events.append({"type": "content_block_start", "index": self._index, "content_block": block})
        return events

    def _delta(self, delta: Event) -> Event:
        return {"type": "content_block_delta", "index": self._index, "delta": delta}
