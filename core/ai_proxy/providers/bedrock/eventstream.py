"""AWS eventstream framing (`application/vnd.amazon.eventstream`), decoded sans-IO.

InvokeModelWithResponseStream answers in binary messages, each:

    total length (u32) | headers length (u32) | prelude CRC32 (of the 8 bytes before)
    headers: name length (u8), name, value type (u8), value
    payload | message CRC32 (of every byte before it)

An `event` message of type `chunk` carries `{"bytes": <base64 of one Anthropic stream event>}`;
an `exception` message (`:exception-type`, e.g. `modelStreamErrorException`) ends the stream
with `{"message": ...}`. Both come out as the `SSEEvent`s the relaying reply reads, so a
Bedrock stream is observed exactly like Anthropic's; an exception becomes Anthropic's `error`
event, after whatever content the same read decoded before it.
"""

from __future__ import annotations

import base64
import binascii
import struct
import uuid
import zlib
from datetime import UTC, datetime

import orjson

from ...errors import UpstreamError
from ...sse import SSEEvent
from .errors import stream_error_event

PRELUDE = 12  # total length, headers length, prelude CRC
MESSAGE_CRC = 4
# botocore's own limits for one message: anything larger is a corrupt length, not a message.
MAX_HEADERS = 128 * 1024
MAX_PAYLOAD = 24 * 1024 * 1024

HeaderValue = bool | int | bytes | str | datetime | uuid.UUID
# Value types by their wire code; the fixed-size ones with their struct format.
_FIXED = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}


class EventStreamDecoder:
    """Feed bytes as they arrive; get back the events of every message they complete."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self._buffer += chunk
        events: list[SSEEvent] = []
        start = 0
        buffer = self._buffer
        while len(buffer) - start >= PRELUDE:
            total, headers_length = _prelude(buffer, start)
            end = start + total
            if len(buffer) < end:
                break
            message = memoryview(buffer)[start:end]
            try:
                events.append(_event(message, headers_length))
            finally:
                message.release()
            start = end
        del buffer[:start]
        return events

    def pending(self) -> bool:
        """True when the bytes fed so far end inside a message (a cut stream)."""
        return bool(self._buffer)


def _prelude(buffer: bytearray, start: int) -> tuple[int, int]:
    total, headers_length, crc = struct.unpack_from(">III", buffer, start)
    if zlib.crc32(buffer[start : start + 8]) != crc:
        raise UpstreamError("bedrock sent a corrupt eventstream message (prelude CRC mismatch)")
    payload_length = total - PRELUDE - MESSAGE_CRC - headers_length
    if headers_length > MAX_HEADERS or not 0 <= payload_length <= MAX_PAYLOAD:
        raise UpstreamError(
            f"bedrock sent a corrupt eventstream message (lengths {total}, {headers_length})"
        )
    return total, headers_length


def _event(message: memoryview, headers_length: int) -> SSEEvent:
    (crc,) = struct.unpack_from(">I", message, len(message) - MESSAGE_CRC)
    if zlib.crc32(message[:-MESSAGE_CRC]) != crc:
        raise UpstreamError("bedrock sent a corrupt eventstream message (message CRC mismatch)")
    headers = decode_headers(message[PRELUDE : PRELUDE + headers_length])
    payload = bytes(message[PRELUDE + headers_length : -MESSAGE_CRC])
    kind = headers.get(":message-type")
    if kind == "event" and headers.get(":event-type") == "chunk":
        return _chunk_event(payload)
    if kind == "exception":
        return _error(str(headers.get(":exception-type", "")), _message(payload))
    if kind == "error":
        # A service-level error message: its code and text ride in headers, not the payload.
        return _error(str(headers.get(":error-code", "")), str(headers.get(":error-message", "")))
    raise UpstreamError(f"bedrock sent an unexpected eventstream message: {headers}"[:300])


def decode_headers(data: memoryview) -> dict[str, HeaderValue]:
    """Every header value type the format has: booleans, integers of 1 to 8 bytes, byte
    arrays, strings, timestamps (milliseconds since the epoch) and UUIDs."""
    headers: dict[str, HeaderValue] = {}
    at = 0
    try:
        while at < len(data):
            size = data[at]
            name = bytes(data[at + 1 : at + 1 + size]).decode()
            at += 1 + size
            kind = data[at]
            at += 1
            value: HeaderValue
            if kind in (0, 1):
                value = kind == 0
            elif kind in _FIXED:
                fmt = _FIXED[kind]
                (number,) = struct.unpack_from(fmt, data, at)
                at += struct.calcsize(fmt)
                value = datetime.fromtimestamp(number / 1000, UTC) if kind == 8 else number
            elif kind in (6, 7):
                (length,) = struct.unpack_from(">H", data, at)
                raw = bytes(data[at + 2 : at + 2 + length])
                if len(raw) != length:
                    raise ValueError("header value runs past the headers")
                at += 2 + length
                value = raw.decode() if kind == 7 else raw
            elif kind == 9:
                raw = bytes(data[at : at + 16])
                value = uuid.UUID(bytes=raw)
                at += 16
            else:
                raise ValueError(f"unknown header value type {kind}")
            headers[name] = value
    except (ValueError, IndexError, struct.error, UnicodeDecodeError) as exc:
        raise UpstreamError(f"bedrock sent corrupt eventstream headers: {exc}") from None
    return headers


def _chunk_event(payload: bytes) -> SSEEvent:
    try:
        part = orjson.loads(payload)
        data = base64.b64decode(part["bytes"], validate=True)
        event = orjson.loads(data)
        kind = event["type"]
    except (orjson.JSONDecodeError, binascii.Error, KeyError, TypeError):
        raise UpstreamError(f"bedrock sent a chunk we could not read: {payload[:200]!r}") from None
    return SSEEvent(str(kind), data.decode())


def _message(payload: bytes) -> str:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload[:300].decode("utf-8", errors="replace")
    message = body.get("message") if isinstance(body, dict) else None
    return str(message) if message is not None else ""


def _error(exception_type: str, message: str) -> SSEEvent:
    return SSEEvent("error", orjson.dumps(stream_error_event(exception_type, message)).decode())
