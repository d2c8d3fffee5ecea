"""The one streaming loop: upstream bytes -> SSE events -> the provider's reply -> the client.

Every provider streams through it, so pings, truncation checks, error frames and the
"content before an error" rule are written once; what a chunk becomes (translated events or
upstream's own bytes) is the `Reply` strategy's business (ai_proxy.providers.base). It owns no
connection: `on_done` (closing the upstream response and reporting the request) runs when the
stream ends, however it ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from .errors import GatewayError, UpstreamError
from .logs import redact_bytes
from .observability import RequestRecord
from .providers.base import Reply
from .sse import PING, SSEDecoder, encode
from .upstream import UpstreamResponse

log = logging.getLogger("ai_proxy.relay")


async def relay_stream(
    name: str,
    response: UpstreamResponse,
    reply: Reply,
    record: RequestRecord,
    ping_interval: float,
    on_done: Callable[[], Awaitable[None]],
) -> AsyncIterator[bytes]:
    """Frames for the client, each sent as soon as the upstream chunk that completes it arrives.

    Transport failures arrive as GatewayError already (ai_proxy.upstream maps them)."""
    decoder = SSEDecoder()
    # Anthropic's streams open with `message_start`, and clients rely on it: no ping of ours
    # goes out before the first frame made from upstream's events (upstream's own
    # message_start, or the translator's), however long upstream takes to begin.
    started = False
    try:
        while True:
            try:
                async with asyncio.timeout(ping_interval if started else None):
                    chunk = await response.read_chunk()
            except TimeoutError:
                yield PING  # upstream is silent (thinking): keep proxies from timing out
                continue
            if not chunk:
                record.upstream_finished = time.perf_counter()
                break
            for frames in reply.feed(chunk, decoder.feed(chunk), record):
                started = True
                yield frames
        if decoder.pending():
            raise UpstreamError(f"{name} upstream stream ended in the middle of an event")
        frames = reply.finish(record)
        if frames:
            yield frames
    except GatewayError as error:
        yield error_frame(error, record)
    except Exception:
        # A reply the translator could not make sense of (or a bug in it): never a trace to the
        # client, never a silently cut stream.
        log.exception("%s stream could not be translated", name)
        garbled = UpstreamError(f"{name} upstream sent a stream we could not translate")
        yield error_frame(garbled, record)
    finally:
        if record.upstream_finished is None:  # broke off: timed until it did
            record.upstream_finished = time.perf_counter()
        await on_done()


def error_frame(error: GatewayError, record: RequestRecord) -> bytes:
    """After the 200 went out, an error can only be an SSE `error` event ending the stream."""
    record.error_type = error.error_type
    record.error_message = error.message
    return redact_bytes(encode("error", error.body()))
