"""Serve an aiohttp or ASGI app on 127.0.0.1 from a background thread, for fake upstreams.

Tests are mostly synchronous (the anthropic SDK, httpx.Client), so each fake gets its own
event loop in its own thread instead of sharing the test's loop. The listening socket is
bound before the thread starts, so `base_url` is known at once and no port can be raced.

aiohttp is the better host for fakes that must misbehave: a handler holds the transport and
can close or reset the connection mid-body. Plain ASGI apps (FastAPI, Starlette) run on
uvicorn for fakes that only need well-formed answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from types import TracebackType
from typing import Any, Self

import uvicorn
from aiohttp import web

AsgiApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]
StopHook = Callable[[], Awaitable[None]]

START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0


class BackgroundServer:
    """`with BackgroundServer(app) as server: httpx.get(server.base_url + "/x")`.

    `on_stop` hooks run in the server's loop before connections are closed, so a fake can
    release handlers that are deliberately hanging. Start each instance once: an aiohttp app
    is frozen by its first run.
    """

    def __init__(
        self,
        app: web.Application | AsgiApp,
        *,
        name: str = "fake-upstream",
        shutdown_timeout: float = 0.5,
    ) -> None:
        self.app = app
        self.name = name
        self.shutdown_timeout = shutdown_timeout
        self.on_stop: list[StopHook] = []
        self.port = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError(f"{self.name} is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._loop

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(sock,), name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError(f"{self.name} did not start within {START_TIMEOUT}s")
        if self._error is not None:
            self._thread.join(STOP_TIMEOUT)
            self._thread = None
            self.port = 0
            raise RuntimeError(f"{self.name} failed to start") from self._error
        return self

    def stop(self) -> None:
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop finished on its own
                loop.call_soon_threadsafe(stopping.set)
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"{self.name} did not stop within {STOP_TIMEOUT}s")
        self._thread = None
        self._loop = None
        self._stopping = None
        self.port = 0
        if self._error is not None:
            raise RuntimeError(f"{self.name} crashed") from self._error

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, sock: socket.socket) -> None:
        try:
            asyncio.run(self._main(sock))
        except BaseException as error:  # reported by start() or stop(), never swallowed
            self._error = error
        finally:
            self._ready.set()
            if sock.fileno() != -1:  # startup failed before the server took the socket
                sock.close()

    async def _main(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if isinstance(self.app, web.Application):
            await self._serve_aiohttp(self.app, sock, self._stopping)
        else:
            await self._serve_asgi(self.app, sock, self._stopping)

    async def _serve_aiohttp(
        self, app: web.Application, sock: socket.socket, stopping: asyncio.Event
    ) -> None:
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=self.shutdown_timeout
        )
        await runner.setup()
        try:
            site = web.SockSite(runner, sock)
            await site.start()
            self._ready.set()
            await stopping.wait()
            await self._run_stop_hooks()
        finally:
            await runner.cleanup()

    async def _serve_asgi(self, app: AsgiApp, sock: socket.socket, stopping: asyncio.Event) -> None:
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=max(1, round(self.shutdown_timeout)),
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if serving.done():
                await serving  # surfaces the startup error
                raise RuntimeError("uvicorn exited during startup")
            await asyncio.sleep(0.005)
        self._ready.set()
        await stopping.wait()
        await self._run_stop_hooks()
        server.should_exit = True
        await serving

    async def _run_stop_hooks(self) -> None:
        for hook in self.on_stop:
            await hook()


class ServedFake:
    """A fake upstream whose app runs on its `_server`: `with Fake() as fake:`, or start/stop."""

    _server: BackgroundServer

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
