"""A small closed-loop HTTP/1.1 client on asyncio + httptools.

wrk measures whole responses; this client also times the first SSE event of a stream (TTFE)
and keeps bodies for the correctness check. It is the load generator too when wrk is missing
(slower: it shares a core with the fake upstream, so its numbers are only indicative).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import cast

import httptools

# An SSE event ends at an empty line; any of the three line endings may be used.
EVENT_ENDS = (b"\n\n", b"\r\n\r\n", b"\r\r")


def raw_request(
    host: str, port: int, path: str, body: bytes, headers: dict[str, str] | None = None
) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"host: {host}:{port}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(slots=True)
class Response:
    status: int
    latency: float  # seconds, request written -> last byte
    ttfe: float | None  # seconds, request written -> first complete SSE event
    body: bytes


class _Connection(asyncio.Protocol):
    def __init__(self, keep_body: bool) -> None:
        self.keep_body = keep_body
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Response] | None = None
        self.started = 0.0
        self.first_event: float | None = None
        self.tail = b""
        self.chunks: list[bytes] = []
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed mid-response"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # pragma: no cover - never asked for
            pass
        except httptools.HttpParserError as exc:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(exc)

    def on_body(self, body: bytes) -> None:
        if self.first_event is None:
            window = self.tail + body
            if any(end in window for end in EVENT_ENDS):
                self.first_event = time.perf_counter()
            self.tail = window[-3:]
        if self.keep_body:
            self.chunks.append(body)

    def on_message_complete(self) -> None:
        now = time.perf_counter()
        ttfe = None if self.first_event is None else self.first_event - self.started
        response = Response(
            self.parser.get_status_code(), now - self.started, ttfe, b"".join(self.chunks)
        )
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(response)

    async def send(self, request: bytes) -> Response:
        if self.transport is None:
            raise ConnectionError("connection closed")
        self.first_event, self.tail, self.chunks = None, b"", []
        self.waiter = asyncio.get_running_loop().create_future()
        self.started = time.perf_counter()
        self.transport.write(request)
        return await self.waiter


async def connect(host: str, port: int, keep_body: bool = False) -> _Connection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: _Connection(keep_body), host, port)
    return protocol


async def request_once(host: str, port: int, request: bytes) -> Response:
    connection = await connect(host, port, keep_body=True)
    try:
        async with asyncio.timeout(30):
            return await connection.send(request)
    finally:
        if connection.transport is not None:
            connection.transport.close()


@dataclass(slots=True)
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    ttfes: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def run_load(
    host: str, port: int, request: bytes, concurrency: int, duration: float, warmup: float = 0.0
) -> LoadResult:
    """`concurrency` connections, each sending the request again as soon as it is answered.

    Only requests that start after `warmup` and finish before the deadline are counted."""
    result = LoadResult()
    start = time.perf_counter()
    measure_from = start + warmup
    deadline = measure_from + duration

    async def worker() -> None:
        connection: _Connection | None = None
        while time.perf_counter() < deadline:
            if connection is None or connection.transport is None:
                connection = await connect(host, port)
            began = time.perf_counter()
            try:
                response = await connection.send(request)
            except (ConnectionError, httptools.HttpParserError):
                connection = None
                result.errors += 1
                continue
            if began < measure_from or time.perf_counter() > deadline:
                continue
            if response.status != 200:
                result.errors += 1
            result.requests += 1
            result.latencies.append(response.latency)
            if response.ttfe is not None:
                result.ttfes.append(response.ttfe)
        if connection is not None and connection.transport is not None:
            connection.transport.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = duration
    return result


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
