"""Build the ASGI application from configuration."""

from __future__ import annotations

import gc

from ..config import Config
from ..factory import build_gateway
from .asgi import GatewayApp

# Young objects are collected every GC_THRESHOLD allocations rather than CPython's 700: a request
# frees nearly everything it allocates by reference counting, and at 700 the collector ran every
# few requests, promoting the objects of requests still in flight (docs/performance.md).
GC_THRESHOLD = (50_000, 20, 20)


def create_app(config: Config | None = None) -> GatewayApp:
    """The app for a config, or for the file named by AI_PROXY_CONFIG plus the environment.

    Without a config this is a process's entry point (`uvicorn --factory`, a worker of
    `ai-proxy --workers N`, a cloud adapter), so it also sets up logging (`log.*`); a caller
    passing a config (tests, `ai-proxy` itself) owns logging.
    """
    return GatewayApp(build_gateway(config))


def create_serving_app() -> GatewayApp:
    """`create_app()` for a process that does nothing but serve (`ai-proxy --workers N`)."""
    app = create_app()
    tune_gc_for_serving()
    return app


def tune_gc_for_serving() -> None:
    """Once the app is built, in a process that only serves it (never in a test process).

    What is alive now (modules, config, pydantic validators) lives as long as the process:
    frozen, it is no longer re-scanned by every full collection, which under load stalled the
    event loop for 50-100 ms, the p99 of every request in flight (docs/performance.md).
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
