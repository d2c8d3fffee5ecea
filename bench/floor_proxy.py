"""The floor of a Python proxy: uvicorn (uvloop, httptools) + raw ASGI + a pooled aiohttp client.

It forwards each request's path and body to the upstream unchanged and relays the answer, as
it arrives, without looking at it: no validation, no translation, no logging, no metrics.
Whatever the gateway costs above this is the price of what it does (`--baseline floor`).

`python bench/floor_proxy.py UPSTREAM_URL PORT [aiohttp|raw]`: with `raw`, the upstream client is
bench/client.py's (asyncio + httptools, a keep-alive pool, no aiohttp imported): what a
purpose-built client would buy over aiohttp, in CPU per request and in import time
(`--baseline floor-raw`).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class FloorProxy:
    def __init__(self, upstream: str) -> None:
        import aiohttp

        self.aiohttp = aiohttp
        self.upstream = upstream
        self.session: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            if self.session is not None:
                await self.session.close()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.session is None:
            aiohttp = self.aiohttp
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512))
        query = scope.get("query_string", b"").decode()
        url = self.upstream + scope["path"] + (f"?{query}" if query else "")
        async with self.session.post(
            url, data=body, headers={"content-type": "application/json"}
        ) as response:
            content_type = response.headers.get("content-type", "application/json").encode()
            headers = [(b"content-type", content_type)]
            if "text/event-stream" not in response.headers.get("content-type", ""):
                data = await response.read()
                headers.append((b"content-length", str(len(data)).encode()))
                await send(
                    {"type": "http.response.start", "status": response.status, "headers": headers}
                )
                await send({"type": "http.response.body", "body": data})
                return
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})


class RawFloorProxy:
    """The same pass-through with a minimal keep-alive HTTP/1.1 client instead of aiohttp.

    Buffers the upstream answer whole (streams included): a lower bound for the client's cost,
    not a relay to copy."""

    def __init__(self, upstream: str) -> None:
        host_port = upstream.split("//", 1)[1].split("/", 1)[0]
        host, _, port = host_port.partition(":")
        self.host, self.port = host, int(port or 80)
        self.idle: list[Any] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        import client

        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = scope.get("query_string", b"").decode()
        path = scope["path"] + (f"?{query}" if query else "")
        connection = self.idle.pop() if self.idle else None
        if connection is None or connection.transport is None:
            connection = await client.connect(self.host, self.port, keep_body=True)
        answer = await connection.send(client.raw_request(self.host, self.port, path, body))
        self.idle.append(connection)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer.body)).encode()),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})


def main() -> None:
    upstream, port = sys.argv[1], int(sys.argv[2])
    raw = len(sys.argv) > 3 and sys.argv[3] == "raw"
    uvicorn.run(
        RawFloorProxy(upstream) if raw else FloorProxy(upstream),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
