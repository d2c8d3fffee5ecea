"""The one streaming loop: upstream bytes -> SSE events -> translator -> our SSE frames.

Every provider streams through it, so pings, truncation checks, error frames and the
"content before an error" rule are written once. It owns no connection: `on_done` (closing the
upstream response and reporting the request) runs when the stream ends, however it ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp

from .errors import GatewayError, UpstreamError
from .logs import redact_bytes
from .observability import RequestRecord
from .providers.base import StreamTranslator
from .providers.blocks import Event
from .sse import PING, SSEDecoder, complete_events_end, encode, encode_events
from .upstream import UpstreamClient

log = logging.getLogger("ai_proxy.relay")


async def relay_stream(
    response: aiohttp.ClientResponse,
    client: UpstreamClient,
    translator: StreamTranslator,
    record: RequestRecord,
    ping_interval: float,
    on_done: Callable[[], Awaitable[None]],
) -> AsyncIterator[bytes]:
    """Frames for the client, each sent as soon as the upstream chunk that completes it arrives.

    A pass-through translator (`relays_raw`) only observes: the client gets upstream's own bytes,
    cut at event boundaries so that a ping or an error frame of ours never lands inside one of
    upstream's events.
    """
    decoder = SSEDecoder()
    raw = translator.relays_raw
    held = b""  # raw mode: the start of an event not yet complete
    reader = response.content
    # Anthropic's streams open with `message_start`, and clients rely on it: no ping of ours
    # goes out before the first frame made from upstream's events (upstream's own
    # message_start, or the translator's), however long upstream takes to begin.
    started = False
    try:
        while True:
            ping_due = asyncio.timeout(ping_interval if started else None)
            try:
                async with ping_due:
                    chunk = await read_chunk(reader)
            except TimeoutError:
                if not ping_due.expired():
                    raise  # aiohttp's own timeouts, not our ping timer
                yield PING  # upstream is silent (thinking): keep proxies from timing out
                continue
            if not chunk:
                record.upstream_finished = time.perf_counter()
                break
            events: list[Event] = []
            try:
                for event in decoder.feed(chunk):
                    events.extend(translator.feed(event))
            except GatewayError:
                # An upstream error event read together with content: the content the client
                # was already owed goes out before the error frame.
                if events and not raw:
                    record.observe_events(events)
                    yield encode_events(events)
                raise
            if events:
                record.observe_events(events)
            if raw:
                held += chunk
                end = complete_events_end(held)
                if end:
                    out, held = held[:end], held[end:]
                    started = True
                    yield translator.relay_frames(out)
            elif events:
                started = True
                yield encode_events(events)
        if decoder.pending():
            raise UpstreamError(f"{client.name} upstream stream ended in the middle of an event")
        events = translator.finish()
        record.observe_events(events)
        if events:
            yield encode_events(events)
    except GatewayError as error:
        yield error_frame(error, record)
    except (aiohttp.ClientError, TimeoutError) as exc:
        yield error_frame(client.error_from_exception(exc), record)
    except Exception:
        # A reply the translator could not make sense of (or a bug in it): never a trace to the
        # client, never a silently cut stream.
        log.exception("%s stream could not be translated", client.name)
        garbled = UpstreamError(f"{client.name} upstream sent a stream we could not translate")
        yield error_frame(garbled, record)
    finally:
        if record.upstream_finished is None:  # broke off: timed until it did
            record.upstream_finished = time.perf_counter()
        await on_done()


async def read_chunk(reader: aiohttp.StreamReader) -> bytes:
    """The next bytes upstream sent; a broken connection's error only once they are all read.

    aiohttp raises a connection's failure on the next read as soon as it happens, even while
    bytes that arrived before it still sit unread in the buffer (asyncio's own StreamReader
    does the same, cpython gh-75044). A relay busy writing to the client when upstream sent
    its last events and then broke off would lose those events; they are the client's, so
    they go out first, and the failure is raised by the read after them (it stays set)."""
    try:
        return await reader.readany()
    except aiohttp.ClientError:
        # No public API reads past a set exception: the buffer is aiohttp's own deque.
        if reader._buffer:
            return reader._read_nowait(-1)
        raise


def error_frame(error: GatewayError, record: RequestRecord) -> bytes:
    """After the 200 went out, an error can only be an SSE `error` event ending the stream."""
    record.error_type = error.error_type
    record.error_message = error.message
    return redact_bytes(encode("error", error.body()))
