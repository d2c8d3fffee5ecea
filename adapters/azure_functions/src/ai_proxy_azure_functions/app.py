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

import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func
from ai_proxy.factory import build_serverless_gateway, refresh_secrets_when_due
from ai_proxy.gateway import Gateway
from ai_proxy.plain import CoreRequest, CoreResponse

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# A catch-all route; with host.json's empty routePrefix, `/v1/messages` arrives as itself.
ROUTE = "{*path}"
STREAMING_SETTING = "AZURE_FUNCTIONS_HTTP_STREAMS"


def streaming_enabled() -> bool:
    return os.environ.get(STREAMING_SETTING, "1").strip().lower() not in ("0", "false", "no")


def load_gateway() -> Gateway:
    """Once per worker process: config from app settings, logging as JSON lines with keys
    redacted, keys read from the secret source."""
    return build_serverless_gateway()


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
        await refresh_secrets_when_due(gateway)
        url = urlsplit(req.url)
        request = CoreRequest(
            method=req.method.upper(),
            path=url.path or "/",
            headers={name.lower(): value for name, value in req.headers.items()},
            body=req.get_body(),
            query=url.query,
        )
        response = await gateway.handle(request)
        body = (
            response.body if isinstance(response.body, bytes) else await _collect(gateway, response)
        )
        return func.HttpResponse(
            b"" if request.method == "HEAD" else body,
            status_code=response.status,
            headers=_str_headers(response),
        )


def _register_streaming(app: func.FunctionApp, gateway: Gateway) -> None:
    # Importing the extension is what switches the worker to HTTP streams.
    from azurefunctions.extensions.http.fastapi import Request, Response, StreamingResponse
    from starlette import responses  # the extension's own types, which it re-exports untyped

    class ClosingStreamingResponse(responses.StreamingResponse):
        """Closes the gateway's body however the stream ends (finished, failed, client gone),
        even if it was never iterated, then reports the request (ai_proxy.streams)."""

        def __init__(
            self, response: CoreResponse, body: AsyncIterator[bytes], headers: dict[str, Any]
        ) -> None:
            super().__init__(body, status_code=response.status, headers=headers)
            self.core = response

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            try:
                await super().__call__(scope, receive, send)
            finally:
                await _close(gateway, self.core)

    @app.function_name("gateway")
    @app.route(route=ROUTE, methods=METHODS)
    async def gateway_streaming(req: Request) -> StreamingResponse:
        await refresh_secrets_when_due(gateway)
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
        return ClosingStreamingResponse(response, response.body, headers)


async def _collect(gateway: Gateway, response: CoreResponse) -> bytes:
    assert not isinstance(response.body, bytes)
    body: AsyncIterator[bytes] = response.body
    try:
        return b"".join([frame async for frame in body])
    finally:
        await _close(gateway, response)


async def _close(gateway: Gateway, response: CoreResponse) -> None:
    aclose = getattr(response.body, "aclose", None)
    if aclose is not None:
        await aclose()
    if response.record is not None:
        # The stream reports itself when it ends; this covers one never iterated.
        await gateway.finish(response.record)


def _str_headers(response: CoreResponse) -> dict[str, Any]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in response.headers}
