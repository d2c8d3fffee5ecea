"""The one streaming loop: upstream bytes -> events (SSE, or the reply's own framing) -> the
provider's reply -> the client.

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
from typing import Any

from .errors import GatewayError, UpstreamError
from .logs import redact_bytes
from .observability import RequestRecord
from .providers.base import Reply
from .sse import PING, encode
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
    decoder = reply.decoder()
    # Anthropic's streams open with `message_start`, and clients rely on it: no ping of ours
    # goes out before the first frame made from upstream's events (upstream's own
    # message_start, or the translator's), however long upstream takes to begin.
    pings: PingTimer | None = None
    try:
        while True:
            chunk: bytes | None
            if pings is None:
                chunk = await response.read_chunk()
            else:
                chunk = await pings.read(response)
            if chunk is None:
                yield PING  # upstream is silent (thinking): keep proxies from timing out
                continue
            if not chunk:
                record.upstream_finished = time.perf_counter()
                break
            for frames in reply.feed(chunk, decoder.feed(chunk), record):
                if pings is None:
                    pings = PingTimer(ping_interval)
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
        if pings is not None:
            pings.close()
        if record.upstream_finished is None:  # broke off: timed until it did
            record.upstream_finished = time.perf_counter()
        await on_done()


def error_frame(error: GatewayError, record: RequestRecord) -> bytes:
    """After the 200 went out, an error can only be an SSE `error` event ending the stream."""
    record.error_type = error.error_type
    record.error_message = error.message
    return redact_bytes(encode("error", error.body()))


class PingTimer:
    """Interrupts a read once upstream has been silent for `interval` seconds.

    `asyncio.timeout` around each read would arm and cancel a loop timer for every chunk, a
    few microseconds each on a path that runs per event. This one timer is armed once and only
    looked at when it fires: if a read started since, it is re-armed for that read's deadline;
    if the read under way is past its deadline, the reading task is cancelled, as
    `asyncio.timeout` would (the bytes arriving meanwhile stay in the reader's buffer for the
    next read). It never fires outside a read: the client's writes are never interrupted.
    """

    __slots__ = ("_deadline", "_fired", "_handle", "_interval", "_loop", "_reader")

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._handle: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._reader: asyncio.Task[Any] | None = None  # the task reading, while it reads
        self._fired = False

    async def read(self, response: UpstreamResponse) -> bytes | None:
        """The next chunk, or None when upstream stayed silent for the whole interval."""
        task = asyncio.current_task()
        assert task is not None
        self._deadline = self._loop.time() + self._interval
        if self._handle is None:
            self._handle = self._loop.call_at(self._deadline, self._on_timer)
        cancelling = task.cancelling()
        self._reader, self._fired = task, False
        try:
            return await response.read_chunk()
        except asyncio.CancelledError:
            if self._fired and task.uncancel() <= cancelling:
                return None  # our own cancellation, and nobody else's
            raise
        finally:
            self._reader = None

    def _on_timer(self) -> None:
        self._handle = None
        if self._reader is None:
            return  # between reads: the next read arms it again
        if self._loop.time() < self._deadline:
            self._handle = self._loop.call_at(self._deadline, self._on_timer)
            return
        self._fired = True
        self._reader.cancel()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
