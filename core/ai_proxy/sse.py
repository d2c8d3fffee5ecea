"""Server-sent events: an incremental decoder for upstream bytes and an encoder for our frames."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

import orjson


@dataclass(slots=True)
class SSEEvent:
    event: str
    data: str


def encode(event: str, data: Any) -> bytes:
    return _head(event) + orjson.dumps(data) + b"\n\n"


def encode_events(events: list[dict[str, Any]]) -> bytes:
    """Anthropic frames name the event after the payload's own `type`. One join per batch,
    each frame's head encoded once per event type (this runs for every event we send)."""
    parts: list[bytes] = []
    for event in events:
        parts += (_head(event["type"]), orjson.dumps(event), b"\n\n")
    return b"".join(parts)


_HEADS: dict[str, bytes] = {}


def _head(event: str) -> bytes:
    head = _HEADS.get(event)
    if head is None:
        head = b"event: " + event.encode() + b"\ndata: "
        if len(_HEADS) < 64:  # the event types are a handful; never grow on odd names
            _HEADS[event] = head
    return head


PING = encode("ping", {"type": "ping"})


class StreamDecoder(Protocol):
    """Upstream's stream bytes -> the events they complete (sans-IO, fed chunk by chunk)."""

    def feed(self, chunk: bytes) -> list[SSEEvent]: ...

    def pending(self) -> bool:
        """True when the bytes fed so far end inside an event."""
        ...


class SSEDecoder:
    """Feed raw bytes as they arrive; get back every event completed by them.

    Handles LF, CRLF and CR line endings, multi-line `data:`, comments and events split across
    any number of network chunks, per the WHATWG event-stream grammar. The chunk is split into
    lines in place (`bytes.splitlines` knows exactly these three endings) and each event's data
    is decoded once, when it is dispatched: no copy of the whole buffer per chunk.
    """

    __slots__ = ("_buffer", "_data", "_event", "_skip_lf")

    def __init__(self) -> None:
        self._buffer = b""  # an unfinished line
        self._event = ""
        self._data: list[bytes] = []
        # The last chunk ended in CR: if the next one starts with LF, that LF ends no new line.
        self._skip_lf = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._skip_lf:
            self._skip_lf = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        buffer = self._buffer + chunk if self._buffer else chunk
        end = max(buffer.rfind(b"\n"), buffer.rfind(b"\r")) + 1
        if end == 0:
            self._buffer = buffer
            return []
        if end == len(buffer):
            self._buffer = b""
            self._skip_lf = buffer.endswith(b"\r")
            lines = buffer.splitlines()
        else:
            self._buffer = buffer[end:]
            lines = buffer[:end].splitlines()
        events: list[SSEEvent] = []
        for raw in lines:
            if not raw:
                if self._data:
                    data = b"\n".join(self._data).decode("utf-8", errors="replace")
                    events.append(SSEEvent(self._event or "message", data))
                self._event, self._data = "", []
                continue
            field, _, value = raw.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            if field == b"data":
                self._data.append(value)
            elif field == b"event":
                self._event = value.decode("utf-8", errors="replace")
        return events

    def pending(self) -> bool:
        """True when bytes of an unfinished event are buffered (a truncated stream)."""
        return bool(self._data or self._buffer.strip())


_LINE_END = re.compile(rb"\r\n|\n|\r")


def complete_events_end(buffer: bytes) -> int:
    """How many leading bytes of `buffer` make up complete events (up to and including the
    blank line that ends the last one); 0 when no event is complete yet."""
    if b"\r" not in buffer:
        end = buffer.rfind(b"\n\n")
        if end >= 0:
            return end + 2
        return 1 if buffer.startswith(b"\n") else 0  # a blank line right after the last cut
    end = 0
    previous_end = -1
    for match in _LINE_END.finditer(buffer):
        if match.start() == previous_end or match.start() == 0:
            end = match.end()  # an empty line: the event before it is complete
        previous_end = match.end()
    return end
