"""The gateway as a plain ASGI application (uvicorn, Mangum, functions-framework, ...).

Written against ASGI directly rather than FastAPI: our routes are a handful of fixed paths that
all delegate to `Gateway.handle`, and skipping a framework's per-request machinery is a
measurable part of our overhead budget (README, "Performance").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from ..errors import GatewayError, RequestTooLarge, UpstreamError
from ..gateway import CoreRequest, CoreResponse, Gateway
from ..observability import RequestRecord, new_request_id

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("ai_proxy.http")


class GatewayApp:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.gateway.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        try:
            body = await _read_body(receive, self.gateway.config.server.max_body_bytes)
        except GatewayError as error:
            record = RequestRecord(new_request_id(), scope["method"], scope["path"], 0.0)
            await _send_response(send, self.gateway.error_response(error, record), scope)
            return
        request = CoreRequest(
            method=scope["method"],
            path=scope["path"],
            headers=headers,
            body=body,
            query=scope.get("query_string", b"").decode("latin-1"),
        )
        try:
            response = await self.gateway.handle(request)
        except Exception:
            # A bug, not an upstream failure: log it with the trace, tell the client nothing more.
            log.exception("unhandled error serving %s %s", request.method, request.path)
            record = RequestRecord(new_request_id(), request.method, request.path, 0.0)
            internal = UpstreamError("internal gateway error", status=500)
            response = self.gateway.error_response(internal, record)
        if isinstance(response.body, bytes):
            await _send_response(send, response, scope)
        else:
            await _stream_response(send, receive, response, response.body)


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"request body exceeds {limit} bytes (server.max_body_bytes)")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send_response(send: Send, response: CoreResponse, scope: Scope) -> None:
    assert isinstance(response.body, bytes)
    body = b"" if scope["method"] == "HEAD" else response.body
    headers = [*response.headers, (b"content-length", str(len(response.body)).encode())]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _stream_response(
    send: Send, receive: Receive, response: CoreResponse, body: AsyncIterator[bytes]
) -> None:
    """Relay frames until the stream ends or the client goes away.

    Servers like uvicorn silently drop writes to a closed connection, so a watcher waits for
    `http.disconnect` and cancels the relay, which closes the upstream request too.
    """

    async def relay() -> None:
        await send(
            {"type": "http.response.start", "status": response.status, "headers": response.headers}
        )
        async for frame in body:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def watch_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    relay_task = asyncio.ensure_future(relay())
    watch_task = asyncio.ensure_future(watch_disconnect())
    try:
        await asyncio.wait((relay_task, watch_task), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (relay_task, watch_task):
            task.cancel()
        # The relay's own failures are already SSE error frames; what is left is a gone client.
        await asyncio.gather(relay_task, watch_task, return_exceptions=True)
        await _aclose(body)


async def _aclose(body: AsyncIterator[bytes]) -> None:
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        await aclose()
