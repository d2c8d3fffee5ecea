"""The one stream loop, driven by a real aiohttp StreamReader fed by hand (behind our own
`AiohttpResponse`): what arrives before a broken connection is relayed, and no ping goes out
before the stream's first event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import cast

import aiohttp
import pytest
from ai_proxy.config import ProviderConfig
from ai_proxy.errors import UpstreamError
from ai_proxy.observability import RequestRecord
from ai_proxy.providers.anthropic.stream import RelayingReply
from ai_proxy.relay import relay_stream
from ai_proxy.sse import PING
from ai_proxy.upstream import AiohttpResponse, UpstreamClient
from aiohttp.base_protocol import BaseProtocol

from tests.sse_grammar import parse_frames

START = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1",'
    b'"type":"message","role":"assistant","model":"claude-x","content":[],'
    b'"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
)
BLOCK = (
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
)
CUT = aiohttp.ClientPayloadError("Response payload is not completed")


class _ClientResponse:
    """The little of aiohttp.ClientResponse that AiohttpResponse reads, around a real reader."""

    def __init__(self, content: aiohttp.StreamReader) -> None:
        self.content = content
        self.status = 200
        self.headers: Mapping[str, str] = {"content-type": "text/event-stream"}


def response(content: aiohttp.StreamReader) -> AiohttpResponse:
    client = UpstreamClient("anthropic", ProviderConfig(base_url="http://127.0.0.1:9"))
    return AiohttpResponse(cast(aiohttp.ClientResponse, _ClientResponse(content)), client)


def reader() -> aiohttp.StreamReader:
    loop = asyncio.get_running_loop()
    protocol = BaseProtocol(loop)
    protocol.transport = asyncio.Transport()  # "connected": a read may wait for data
    return aiohttp.StreamReader(protocol, 2**16, loop=loop)


async def relay(
    content: aiohttp.StreamReader, ping_interval: float = 60, pinged: asyncio.Event | None = None
) -> bytes:
    """Every byte the client gets; `pinged` is set when a ping goes out."""
    record = RequestRecord("req_1", "POST", "/v1/messages", time.perf_counter())

    async def on_done() -> None:
        pass

    frames = relay_stream(
        "anthropic", response(content), RelayingReply("claude-x"), record, ping_interval, on_done
    )
    received = b""
    async for frame in frames:
        received += frame
        if frame == PING and pinged is not None:
            pinged.set()
    return received


async def test_bytes_read_before_a_broken_connection_come_first() -> None:
    content = reader()
    content.feed_data(START)
    content.set_exception(CUT)
    upstream = response(content)
    assert await upstream.read_chunk() == START
    with pytest.raises(UpstreamError, match="closed the connection before finishing"):
        await upstream.read_chunk()


async def test_events_that_arrived_before_the_cut_are_relayed() -> None:
    # Regression (a flake of the cut-stream test under load): upstream's last events and its
    # connection's end both arrived while the relay was busy writing to the client; aiohttp
    # then raised the cut on the next read and the relay dropped those events.
    content = reader()
    content.feed_data(START + BLOCK + b"event: content_block_delta\ndata: {")
    content.set_exception(CUT)
    frames = parse_frames(await relay(content))
    assert [name for name, _ in frames] == ["message_start", "content_block_start", "error"]
    assert frames[-1][1]["error"]["type"] == "api_error"


async def test_no_ping_before_the_first_event_however_long_upstream_waits() -> None:
    content = reader()
    pinged = asyncio.Event()

    async def slow_upstream() -> None:
        # Silent for many ping intervals, then half of message_start, silent again: a ping
        # now would come before the stream's first event.
        await asyncio.sleep(0.05)
        content.feed_data(START[:40])
        await asyncio.sleep(0.05)
        content.feed_data(START[40:] + BLOCK)
        await pinged.wait()  # pings do keep the stream alive once it has begun
        content.feed_eof()

    upstream = asyncio.create_task(slow_upstream())
    received = await relay(content, ping_interval=0.005, pinged=pinged)
    await upstream
    assert received.startswith(START + BLOCK)
    assert [name for name, _ in parse_frames(received)][:3] == [
        "message_start", "content_block_start", "ping",
    ]  # fmt: skip


async def test_a_slow_client_is_never_interrupted_by_the_ping_timer() -> None:
    # The timer runs in the task that also writes to the client: it must only ever cut a read.
    content = reader()
    content.feed_data(START)
    record = RequestRecord("req_1", "POST", "/v1/messages", time.perf_counter())

    async def on_done() -> None:
        pass

    frames = relay_stream(
        "anthropic", response(content), RelayingReply("claude-x"), record, 0.005, on_done
    )
    received = b""
    async for frame in frames:
        received += frame
        if frame == START:
            content.feed_data(BLOCK)
            content.feed_eof()
        await asyncio.sleep(0.05)  # a client slower than many ping intervals
    names = [name for name, _ in parse_frames(received)]
    assert received.startswith(START + BLOCK)
    assert "ping" not in names  # every read found its bytes waiting


async def test_a_cancellation_from_outside_is_not_taken_for_silence() -> None:
    content = reader()
    content.feed_data(START)
    pinged = asyncio.Event()
    relaying = asyncio.create_task(relay(content, ping_interval=0.005, pinged=pinged))
    await pinged.wait()  # the timer has cut a silent read at least once
    relaying.cancel()
    await asyncio.wait({relaying}, timeout=10)  # a swallowed cancel would relay on for ever
    assert relaying.cancelled()
