"""One assembly of a gateway, for the CLI, `uvicorn --factory` and every cloud adapter.

    load_configured()          config file + environment, then logging from `log.*`: JSON lines,
                               the gateway's keys redacted in every line
    build_gateway(config)      the gateway (its secret source is the one `secrets.source` names)
                               plus the observers an entry point adds
    build_serverless_gateway   the same for platforms that run no ASGI lifespan: the secret is
                               read at cold start and the start-up line logged
    refresh_secrets_when_due   the lazy refresh those platforms do before a request

An adapter calls one of these and then only translates its platform's event in and its
response out. A caller that passes its own config (tests, `ai-proxy` once it has read its
options) owns logging.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from .config import Config, load_config
from .gateway import Gateway
from .logs import configure_logging
from .observability import Observer


def load_configured(path: str | Path | None = None) -> Config:
    """A process's entry point: read the config, and make the process's logging ours."""
    config = load_config(path)
    configure_logging(config.log)
    return config


def build_gateway(config: Config | None = None, observers: Iterable[Observer] = ()) -> Gateway:
    """Without a config, the one `load_configured()` reads (with logging set up from it)."""
    gateway = Gateway(load_configured() if config is None else config)
    gateway.observers.extend(observers)
    return gateway


def build_serverless_gateway(
    config: Config | None = None, observers: Iterable[Observer] = ()
) -> Gateway:
    """For a platform without a lifespan: a secret that cannot be used fails the cold start
    here, with a ConfigError that names it."""
    gateway = build_gateway(config, observers)
    gateway.load_secrets()
    gateway.log_startup()
    return gateway


async def refresh_secrets_when_due(gateway: Gateway) -> None:
    """Re-read the secret if its TTL has passed, and refresh platform credentials near their
    expiry; in a thread, since the cloud SDKs block."""
    if gateway.credentials_due:
        await asyncio.to_thread(gateway.refresh_secrets_if_due)
