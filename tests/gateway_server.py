"""Run the real gateway app under uvicorn on 127.0.0.1 in a background thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from ai_proxy.config import Config
from ai_proxy.http.app import create_app
from ai_proxy.http.asgi import GatewayApp

TEST_KEYS = {
    "gemini": "test-gemini-key",
    "openai": "test-openai-key",
    "anthropic": "test-anthropic-key",
}


def make_config(
    upstreams: dict[str, str] | None = None,
    keys: dict[str, str] | None = None,
    **sections: dict[str, Any],
) -> Config:
    """A config whose providers point at fake upstreams (`{"gemini": base_url, ...}`).

    Unless a test passes its own `auth` or `retries` section, client authentication is off and
    upstream failures are not retried, so one scripted upstream answer is one client answer.
    """
    keys = TEST_KEYS if keys is None else keys
    sections.setdefault("auth", {"disabled": True})
    sections.setdefault("retries", {"max_retries": 0})
    providers: dict[str, Any] = {}
    for name, base_url in (upstreams or {}).items():
        providers[name] = {"base_url": base_url}
        if name in keys:
            providers[name]["api_key"] = keys[name]
    return Config.model_validate({"providers": providers, **sections})


@contextmanager
def serve_gateway(config: Config) -> Iterator[str]:
    """Yield the base URL of a running gateway; stop it (lifespan shutdown included) on exit."""
    with serve_app(create_app(config)) as url:
        yield url


@contextmanager
def serve_app(app: GatewayApp, **uvicorn_options: Any) -> Iterator[str]:
    """The app under uvicorn (lifespan on) on 127.0.0.1 in a thread; yields its base URL."""
    options: dict[str, Any] = {"log_level": "warning", **uvicorn_options}
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", access_log=False, **options)
    )
    thread = threading.Thread(target=server.run, name="gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("gateway did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
