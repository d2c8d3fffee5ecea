"""Server-sent events: an incremental decoder for upstream bytes and an encoder for our frames."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(slots=True)
class SSEEvent:
    event: str
    data: str


def encode(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def encode_events(events: list[dict[str, Any]]) -> bytes:
    """Anthropic frames name the event after the payload's own `type`."""
    return b"".join(encode(event["type"], event) for event in events)


PING = encode("ping", {"type": "ping"})


class SSEDecoder:
    """Feed raw bytes as they arrive; get back every event completed by them.

    Handles LF, CRLF and CR line endings, multi-line `data:`, comments and events split across
    any number of network chunks, per the WHATWG event-stream grammar.
    """

    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            # A lone trailing CR may be the first half of CRLF: keep it for the next chunk.
            keep_cr = buffer.endswith(b"\r")
            if keep_cr:
                buffer = buffer[:-1]
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if keep_cr:
                buffer += b"\r"
        *lines, self._buffer = buffer.split(b"\n")
        events: list[SSEEvent] = []
        for raw in lines:
            if not raw:
                if self._data:
                    events.append(SSEEvent(self._event or "message", "\n".join(self._data)))
                self._event, self._data = "", []
                continue
            line = raw.decode("utf-8", errors="replace")
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "data":
                self._data.append(value)
            elif field == "event":
                self._event = value
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
