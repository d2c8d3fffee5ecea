"""The gateway as a plain ASGI application (uvicorn, Mangum, functions-framework, ...).

Written against ASGI directly rather than FastAPI: our routes are a handful of fixed paths that
all delegate to `Gateway.handle`, and skipping a framework's per-request machinery is a
measurable part of our overhead budget (README, "Performance").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from .. import routes
from ..config import ConfigError
from ..errors import GatewayError, InternalError, RequestTooLarge
from ..gateway import Gateway
from ..observability import RequestRecord, new_request_id, request_id_from_headers
from ..plain import CoreRequest, CoreResponse
from ..shutdown import DrainOnSigterm

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
        refresh: asyncio.Task[None] | None = None
        drain: DrainOnSigterm | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if not self.gateway.secrets_loaded:
                        # SDK clients block; keep the loop free while the secret is read.
                        await asyncio.to_thread(self.gateway.load_secrets)
                    elif self.gateway.identities_unloaded:
                        await asyncio.to_thread(self.gateway.load_identities)
                except ConfigError as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                refresh = asyncio.create_task(self.gateway.refresh_secrets_forever())
                drain = DrainOnSigterm.install(
                    self.gateway, self.gateway.config.server.drain_seconds
                )
                self.gateway.log_startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if drain is not None:
                    drain.uninstall()
                if refresh is not None:
                    refresh.cancel()
                    await asyncio.gather(refresh, return_exceptions=True)
                await self.gateway.close()
                logging.getLogger("ai_proxy.lifecycle").info("stopped")
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        started = time.perf_counter()
        # Before the body is read; the gateway uses this verdict (and answers the 401).
        query = scope.get("query_string", b"").decode("latin-1")
        admission = self.gateway.admission.check_key(routes.find(scope["path"]), headers, query)
        try:
            if isinstance(admission, GatewayError):
                body = b""  # handle() answers 401/403: a stranger cannot make us buffer a body
            else:
                body = await _read_body(receive, headers, self.gateway.config.server.max_body_bytes)
        except GatewayError as error:
            record = RequestRecord(
                request_id_from_headers(headers), scope["method"], scope["path"], started
            )
            response = self.gateway.error_response(error, record)
            response.headers.append((b"request-id", record.request_id.encode()))
            await _send_response(send, response, scope)
            await self.gateway.finish(record)
            return
        request = CoreRequest(
            method=scope["method"],
            path=scope["path"],
            headers=headers,
            body=body,
            query=query,
            admission=admission,
        )
        try:
            # JSON answers are settled and reported below, once sent (Lambda's Mangum runs this
            # same app and returns only after, so serverless entries settle too).
            response = await self.gateway.handle(request, finish_json=False)
        except Exception:
            # A bug, not an upstream failure: log it with the trace, tell the client nothing more.
            log.exception("unhandled error serving %s %s", request.method, request.path)
            record = RequestRecord(new_request_id(), request.method, request.path, started)
            response = self.gateway.error_response(InternalError(), record)
            response.record = record
        try:
            if isinstance(response.body, bytes):
                await _send_response(send, response, scope)
            else:
                await _stream_response(send, receive, response, response.body)
        finally:
            if response.record is not None:
                # A stream reports itself when it ends; this covers one never iterated.
                await self.gateway.finish(response.record)


async def _read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to be over the limit."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"request body exceeds {limit} bytes (server.max_body_bytes)")
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
