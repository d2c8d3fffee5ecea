"""A streamed response body whose cleanup runs even if nobody ever iterated it.

An async generator's `finally` only runs once the generator has started: a client that goes
away between the response head and the first frame would otherwise leave the upstream
connection open (until garbage collection) and its concurrency slot taken for good. Whoever
serves the body must call `aclose()` once done with it (the ASGI app does, always).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Self

CloseCallback = Callable[[], Awaitable[None] | None]


class StreamBody:
    __slots__ = ("_callbacks", "_closed", "_frames")

    def __init__(self, frames: AsyncIterator[bytes]) -> None:
        self._frames = frames
        self._callbacks: list[CloseCallback] = []
        self._closed = False

    def on_close(self, callback: CloseCallback) -> Self:
        """Run `callback` (sync or async) when the body closes; last added runs first."""
        self._callbacks.append(callback)
        return self

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._frames.__anext__()
        except BaseException:
            # The end of the stream (StopAsyncIteration) or its failure: release now.
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Close the frames (their own cleanup runs if they started), then the callbacks."""
        if self._closed:
            return
        self._closed = True
        try:
            if isinstance(self._frames, AsyncGenerator):
                await self._frames.aclose()
        finally:
            while self._callbacks:
                result = self._callbacks.pop()()
                if inspect.isawaitable(result):
                    await result
