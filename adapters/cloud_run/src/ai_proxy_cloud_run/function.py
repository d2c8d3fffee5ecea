"""Cloud Functions (gen2): the gateway behind functions-framework's ASGI mode.

    functions-framework --source function.py --target ai_proxy

`functions_framework.aio.http` registers the function for the ASGI server (uvicorn workers
under gunicorn), which hands every path to it as a Starlette request. The function answers with
the gateway's own ASGI app, so SSE streams are relayed as they are produced.

The framework runs no lifespan for us: the secret is read when this module is imported (once per
instance) and re-read lazily when its TTL has passed.
"""

from __future__ import annotations

import functions_framework.aio
from ai_proxy.factory import build_serverless_gateway, refresh_secrets_when_due
from ai_proxy.http.asgi import GatewayApp
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

_app = GatewayApp(build_serverless_gateway())


class _GatewayResponse(Response):
    """A Starlette response that is the gateway's ASGI app answering the request itself."""

    def __init__(self, app: GatewayApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@functions_framework.aio.http
async def ai_proxy(request: Request) -> Response:
    await refresh_secrets_when_due(_app.gateway)
    return _GatewayResponse(_app)
