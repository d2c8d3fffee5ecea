"""An AWS eventstream encoder for the fake Bedrock, independent of the gateway's decoder.

    frame = encode_message({":message-type": "event", ":event-type": "chunk"}, payload)

Header values are typed by their Python type (str -> string, bytes -> byte array,
bool, datetime -> timestamp, UUID), or given as `Typed(code, value)` for the integer widths.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Typed:
    """An integer header of an explicit width: 2 byte, 3 short, 4 integer, 5 long."""

    code: int
    value: int


HeaderValue = bool | bytes | str | datetime | uuid.UUID | Typed
_INTEGER_FORMATS = {2: ">b", 3: ">h", 4: ">i", 5: ">q"}


def encode_message(headers: Mapping[str, HeaderValue], payload: bytes) -> bytes:
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    total = 12 + len(encoded) + len(payload) + 4
    head = struct.pack(">II", total, len(encoded))
    prelude = head + struct.pack(">I", zlib.crc32(head))
    message = prelude + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def _header(name: str, value: HeaderValue) -> bytes:
    raw_name = name.encode()
    start = struct.pack(">B", len(raw_name)) + raw_name
    if isinstance(value, bool):
        return start + (b"\x00" if value else b"\x01")
    if isinstance(value, Typed):
        return start + bytes([value.code]) + struct.pack(_INTEGER_FORMATS[value.code], value.value)
    if isinstance(value, bytes):
        return start + b"\x06" + struct.pack(">H", len(value)) + value
    if isinstance(value, str):
        text = value.encode()
        return start + b"\x07" + struct.pack(">H", len(text)) + text
    if isinstance(value, datetime):
        return start + b"\x08" + struct.pack(">q", int(value.timestamp() * 1000))
    return start + b"\x09" + value.bytes
