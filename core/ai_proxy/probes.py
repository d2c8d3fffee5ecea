"""Health probes: answered from flags the gateway keeps, never by calling a provider.

    /health/live     200 whenever the event loop gets to answer at all
    /health/startup  503 until configuration is loaded and secrets are read, then 200
    /health/ready    200 when a provider has a key and the instance is not draining, else 503
                     with the reason: "draining", "secrets not loaded", "no provider configured"

Bodies are small JSON naming configured providers only (never a key or a URL).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

LIVE = "/health/live"
STARTUP = "/health/startup"
READY = "/health/ready"
PATHS = frozenset({LIVE, STARTUP, READY})

DRAINING = "draining"
SECRETS_NOT_LOADED = "secrets not loaded"
NO_PROVIDER = "no provider configured"


def probe(
    path: str, *, draining: bool, secrets_loaded: bool, providers: Sequence[str]
) -> tuple[int, bytes]:
    """(status, JSON body) for one of PATHS."""
    if path == LIVE:
        return 200, b'{"status":"ok"}'
    if path == STARTUP:
        if not secrets_loaded:
            return _unavailable(SECRETS_NOT_LOADED, providers, status="starting")
        return 200, orjson.dumps({"status": "ok", "providers": list(providers)})
    if draining:
        return _unavailable(DRAINING, providers)
    if not secrets_loaded:
        return _unavailable(SECRETS_NOT_LOADED, providers)
    if not providers:
        return _unavailable(NO_PROVIDER, providers)
    return 200, orjson.dumps({"status": "ok", "providers": list(providers)})


def _unavailable(
    reason: str, providers: Sequence[str], status: str = "unavailable"
) -> tuple[int, bytes]:
    return 503, orjson.dumps({"status": status, "reason": reason, "providers": list(providers)})
