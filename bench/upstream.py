"""A fast fake Gemini/OpenAI upstream: raw asyncio + httptools on uvloop, canned bytes.

It must never be the bottleneck, so it does no JSON work per request: every answer is built once
at start-up (bench/canned.py) and written as-is. The benchmark measures its direct rate first
to prove it is faster than what is measured through the gateway.

Paths (any model name):
  POST /v1beta/models/{m}:generateContent            Gemini JSON
  POST /v1beta/models/{m}:streamGenerateContent      Gemini SSE (alt=sse), 50 events
  POST .../chat/completions                          OpenAI JSON, or SSE when "stream": true

Streams: the headers and the first event go out at once; the other events follow `first_gap`
seconds later (one write, or one write every `event_gap` seconds), so time-to-first-event shows
whether the gateway forwards the first event without waiting for the rest.

`python bench/upstream.py --port 0` prints `PORT <n>` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import cast

import canned
import httptools


def _json_response(body: bytes) -> bytes:
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=UTF-8\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    return head + body


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)
NOT_FOUND = (
    b"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 9\r\n\r\nnot found"
)


class Stream:
    """A stream's writes: the first one immediate, the others delayed."""

    __slots__ = ("first", "rest")

    def __init__(self, events: list[bytes], event_gap: float) -> None:
        self.first = SSE_HEAD + _chunk(events[0])
        if event_gap > 0:
            self.rest = [_chunk(event) for event in events[1:]]
            self.rest[-1] += b"0\r\n\r\n"
        else:
            self.rest = [b"".join(_chunk(event) for event in events[1:]) + b"0\r\n\r\n"]


class Answers:
    def __init__(self, event_gap: float) -> None:
        self.gemini_json = _json_response(canned.gemini_json())
        self.openai_json = _json_response(canned.openai_json())
        self.gemini_sse = Stream(canned.gemini_sse_events(), event_gap)
        self.openai_sse = Stream(canned.openai_sse_events(), event_gap)

    def pick(self, path: bytes, body: bytes) -> bytes | Stream:
        if b":streamGenerateContent" in path:
            return self.gemini_sse
        if b":generateContent" in path:
            return self.gemini_json
        if path.endswith(b"/chat/completions"):
            streaming = b'"stream":true' in body or b'"stream": true' in body
            return self.openai_sse if streaming else self.openai_json
        return NOT_FOUND


class UpstreamProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive; requests on one connection are answered strictly in order."""

    def __init__(self, answers: Answers, first_gap: float, event_gap: float) -> None:
        self.answers = answers
        self.first_gap = first_gap
        self.event_gap = event_gap
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []
        self.queue: list[bytes | Stream] = []
        self.busy = False
        self.timer: asyncio.TimerHandle | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        answer = self.answers.pick(self.url.split(b"?", 1)[0], b"".join(self.body))
        if self.busy:
            self.queue.append(answer)
        else:
            self._answer(answer)

    def _answer(self, answer: bytes | Stream) -> None:
        if self.transport is None:
            return
        if isinstance(answer, bytes):
            self.transport.write(answer)
            return
        self.busy = True
        self.transport.write(answer.first)
        self._later(self.first_gap, self._rest(answer.rest))

    def _rest(self, writes: list[bytes]) -> Callable[[], None]:
        def write(index: int = 0) -> None:
            self.timer = None
            if self.transport is None:
                return
            self.transport.write(writes[index])
            if index + 1 < len(writes):
                self._later(self.event_gap, lambda: write(index + 1))
            else:
                self.busy = False
                while self.queue and not self.busy:
                    self._answer(self.queue.pop(0))

        return write

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        if delay > 0:
            self.timer = self.loop.call_later(delay, callback)
        else:
            self.loop.call_soon(callback)


async def serve(host: str, port: int, first_gap: float, event_gap: float) -> None:
    loop = asyncio.get_running_loop()
    answers = Answers(event_gap)
    server = await loop.create_server(
        lambda: UpstreamProtocol(answers, first_gap, event_gap), host, port, backlog=1024
    )
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--first-gap", type=float, default=0.001)
    parser.add_argument("--event-gap", type=float, default=0.0)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # still correct, only slower
        runner: Callable[..., None] = asyncio.run
    else:
        runner = uvloop.run
    try:
        runner(serve(args.host, args.port, args.first_gap, args.event_gap))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
