"""Upstreams that fail below HTTP: reset the connection before answering, or record visits."""

from __future__ import annotations

import socket
import struct

from aiohttp import web

from tests.fakes.server import BackgroundServer


class ResettingUpstream:
    """Accepts each request, then resets the TCP connection (RST) without a status line."""

    def __init__(self) -> None:
        self.hits = 0
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = BackgroundServer(app, name="resetting-upstream")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        transport = request.transport
        assert transport is not None
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        return web.Response(status=500)  # never sent: the connection is gone


class Canary:
    """A server that only counts visits: a URL pointing here must never be fetched."""

    def __init__(self) -> None:
        self.visits: list[str] = []
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = BackgroundServer(app, name="canary")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.visits.append(f"{request.method} {request.path_qs}")
        return web.Response(body=b"\x89PNG\r\n\x1a\n", content_type="image/png")


def closed_port_url() -> str:
    """A 127.0.0.1 URL nobody listens on (bound, then closed): connection refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
