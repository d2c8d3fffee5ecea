"""The plain request and response every entry point speaks: no framework, no platform.

An entry (the ASGI app, each cloud adapter) builds a `CoreRequest` and hands it to
`Gateway.handle`, which answers a `CoreResponse`: a status, headers, and either bytes or an
async iterator of SSE frames relayed as upstream produces them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import orjson

from .auth import ClientKey
from .errors import GatewayError
from .observability import RequestRecord

Headers = list[tuple[bytes, bytes]]
JSON_HEADERS: Headers = [(b"content-type", b"application/json")]
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    # Tells nginx-style proxies not to buffer the stream.
    (b"x-accel-buffering", b"no"),
]


@dataclass(slots=True)
class CoreRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""
    query: str = ""
    # The client key check, when the entry already ran it (the ASGI app does, before reading
    # the body): the key it found, or why it refused. None: the gateway checks.
    admission: ClientKey | GatewayError | None = None


@dataclass(slots=True)
class CoreResponse:
    status: int
    headers: Headers
    body: bytes | AsyncIterator[bytes]
    record: RequestRecord | None = field(default=None)


def json_response(body: bytes | object, status: int = 200) -> CoreResponse:
    """A JSON answer: `body` as bytes already, or a value to serialize."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return CoreResponse(status, list(JSON_HEADERS), data)
