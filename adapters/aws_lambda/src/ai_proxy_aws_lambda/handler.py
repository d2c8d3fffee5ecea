"""AWS Lambda entry: API Gateway REST (v1) and HTTP (v2) APIs, Function URLs and ALB, via Mangum.

Mangum buffers: a streamed (SSE) answer reaches the client whole, when the model has finished.
The streaming path is the same ASGI app under uvicorn and the AWS Lambda Web Adapter behind a
Function URL with InvokeMode RESPONSE_STREAM (`run.sh`, template.yaml's StreamingFunction).

The gateway is built and its secret read when Lambda's runtime looks up `handler` (the init
phase, once per execution environment); a secret that cannot be used fails the init with a
ConfigError that names it. Each invocation only re-reads the secret when its TTL has passed.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib.util
import logging
from collections.abc import Mapping
from typing import Any

from ai_proxy.config import Config
from ai_proxy.factory import build_serverless_gateway, load_configured, refresh_secrets_when_due
from ai_proxy.http.asgi import GatewayApp, Receive, Scope, Send
from ai_proxy.observability import Observer
from mangum import Mangum

# (Lambda request id, API Gateway request id) of the invocation being served, for log records.
_invocation: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar(
    "ai_proxy_lambda_invocation", default=("", "")
)


class LambdaHandler:
    def __init__(self, config: Config | None = None) -> None:
        """Without a config, the process's own (and its logging: JSON lines replace the
        runtime's default handler, which would write each line twice)."""
        config = load_configured() if config is None else config
        _install_log_fields()
        self.gateway = build_serverless_gateway(config, _observers(config))
        # Mangum runs the app on the thread's current event loop. Ours lives as long as the
        # execution environment, and with it the pooled upstream connections.
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._mangum = Mangum(_CorrelatedApp(GatewayApp(self.gateway)), lifespan="off")

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        asyncio.set_event_loop(self._loop)
        ids = (getattr(context, "aws_request_id", ""), _gateway_request_id(event))
        token = _invocation.set(ids)
        try:
            return self._mangum(event, context)
        finally:
            _invocation.reset(token)

    def close(self) -> None:
        """Release the upstream connections and the loop (tests; Lambda just freezes)."""
        self._loop.run_until_complete(self.gateway.close())
        self._loop.close()


def _observers(config: Config) -> list[Observer]:
    if importlib.util.find_spec("aws_lambda_powertools") is None:
        return []
    # Nothing scrapes /metrics on Lambda: the same figures go out as CloudWatch EMF.
    from ai_proxy.emf import EmfMetrics

    return [EmfMetrics(config)]


class _CorrelatedApp:
    """Makes the Lambda request id the gateway's request id unless the client sent its own."""

    def __init__(self, app: GatewayApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await refresh_secrets_when_due(self.app.gateway)
            lambda_id = getattr(scope.get("aws.context"), "aws_request_id", "")
            headers = scope["headers"]
            if lambda_id and not any(name.lower() == b"x-request-id" for name, _ in headers):
                scope["headers"] = [*headers, (b"x-request-id", lambda_id.encode())]
        await self.app(scope, receive, send)


def _gateway_request_id(event: Mapping[str, Any]) -> str:
    """API Gateway v1/v2 and Function URLs carry requestContext.requestId; ALB has none."""
    context = event.get("requestContext")
    request_id = context.get("requestId", "") if isinstance(context, Mapping) else ""
    return request_id if isinstance(request_id, str) else ""


def _install_log_fields() -> None:
    """Every log record gets aws_request_id and apigw_request_id attributes.

    Lambda's JSON log format, and JSON formatters generally, emit a record's extra attributes, so
    a log line of any library can be joined with the invocation and the API Gateway request.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_ai_proxy_lambda", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.aws_request_id, record.apigw_request_id = _invocation.get()
        return record

    factory._ai_proxy_lambda = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


_handler: LambdaHandler | None = None


def __getattr__(name: str) -> Any:
    """`handler` is built when Lambda's runtime looks it up, in the init phase (once per
    execution environment); importing the module alone, as tests do, builds nothing."""
    global _handler
    if name == "handler":
        if _handler is None:
            _handler = LambdaHandler()
        return _handler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
