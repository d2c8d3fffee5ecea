"""Azure Functions (Python v2 model): one HTTP trigger on every route, handing all to the core.

Two modes, chosen per app because the platform switches every HTTP function at once:

* streaming (default): Azure's HTTP streams for Python. Importing
  `azurefunctions.extensions.http.fastapi` makes the worker hand us a FastAPI `Request` and relay
  the `StreamingResponse` we return as it is produced. Needs the app setting
  `PYTHON_ENABLE_INIT_INDEXING=1` and Functions host 4.34+.
* buffered (`AZURE_FUNCTIONS_HTTP_STREAMS=0`): classic `func.HttpRequest` -> `func.HttpResponse`.
  An SSE answer is then delivered whole, when the model has finished.

Keys: Key Vault through a managed identity (`AI_PROXY_SECRETS__SOURCE=azure`), or Key Vault
references in app settings (`AI_PROXY_PROVIDERS__GEMINI__API_KEY=@Microsoft.KeyVault(...)`),
which reach us as plain environment variables.

No `from __future__ import annotations` here: the worker reads the trigger's parameter and return
annotations as objects to pick its bindings.
"""

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func
from ai_proxy.config import load_config
from ai_proxy.gateway import CoreRequest, CoreResponse, Gateway

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# A catch-all route; with host.json's empty routePrefix, `/v1/messages` arrives as itself.
ROUTE = "{*path}"
STREAMING_SETTING = "AZURE_FUNCTIONS_HTTP_STREAMS"


def streaming_enabled() -> bool:
    return os.environ.get(STREAMING_SETTING, "1").strip().lower() not in ("0", "false", "no")


def load_gateway() -> Gateway:
    """Once per worker process: config from app settings, keys read from the secret source."""
    gateway = Gateway(load_config())
    gateway.load_secrets()
    return gateway


def build_function_app(gateway: Gateway, streaming: bool | None = None) -> func.FunctionApp:
    streaming = streaming_enabled() if streaming is None else streaming
    # The gateway does its own client authentication; Functions keys would hide the API.
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    if streaming:
        _register_streaming(app, gateway)
    else:
        _register_buffered(app, gateway)
    return app


def _register_buffered(app: func.FunctionApp, gateway: Gateway) -> None:
    @app.function_name("gateway")
    @app.route(route=ROUTE, methods=METHODS)
    async def gateway_buffered(req: func.HttpRequest) -> func.HttpResponse:
        await _refresh_secrets(gateway)
        url = urlsplit(req.url)
        request = CoreRequest(
            method=req.method.upper(),
            path=url.path or "/",
            headers={name.lower(): value for name, value in req.headers.items()},
            body=req.get_body(),
            query=url.query,
        )
        response = await gateway.handle(request)
        body = response.body if isinstance(response.body, bytes) else await _collect(response)
        return func.HttpResponse(
            b"" if request.method == "HEAD" else body,
            status_code=response.status,
            headers=_str_headers(response),
        )


def _register_streaming(app: func.FunctionApp, gateway: Gateway) -> None:
    # Importing the extension is what switches the worker to HTTP streams.
    from azurefunctions.extensions.http.fastapi import Request, Response, StreamingResponse

    @app.function_name("gateway")
    @app.route(route=ROUTE, methods=METHODS)
    async def gateway_streaming(req: Request) -> StreamingResponse:
        await _refresh_secrets(gateway)
        request = CoreRequest(
            method=req.method.upper(),
            path=req.url.path or "/",
            headers={name.lower(): value for name, value in req.headers.items()},
            body=await req.body(),
            query=req.url.query,
        )
        response = await gateway.handle(request)
        headers = _str_headers(response)
        if isinstance(response.body, bytes):
            body = b"" if request.method == "HEAD" else response.body
            return Response(body, status_code=response.status, headers=headers)
        return StreamingResponse(response.body, status_code=response.status, headers=headers)


async def _refresh_secrets(gateway: Gateway) -> None:
    # No lifespan runs under the Functions worker: the secret is re-read lazily on expiry.
    if gateway.secrets.expired:
        await asyncio.to_thread(gateway.refresh_secrets_if_due)


async def _collect(response: CoreResponse) -> bytes:
    assert not isinstance(response.body, bytes)
    body: AsyncIterator[bytes] = response.body
    return b"".join([frame async for frame in body])


def _str_headers(response: CoreResponse) -> dict[str, Any]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in response.headers}
