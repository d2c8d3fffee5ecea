"""The secret-source interface; the base class owns the cache.

A source is read once at cold start (`load`, fatal on failure) and then re-read when its TTL has
passed, either lazily (`get_keys`, for platforms that freeze between requests) or by a
background task (`refresh_forever`). A failed re-read keeps the last good keys and logs a warning
that names the secret, never a key.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping

import orjson

from ..config import ConfigError
from ..providers.registry import KEYED_PROVIDER_NAMES

Keys = dict[str, str]
log = logging.getLogger("ai_proxy.secrets")

# Not a provider key: the limit store's URL (limits.store = "redis"), held with the keys so that
# its password lives where they do. Never logged; registered for redaction by the gateway.
REDIS_URL = "redis_url"
SECRET_NAMES = (*KEYED_PROVIDER_NAMES, REDIS_URL)
EXPECTED_SHAPE = "{" + ", ".join(f'"{name}": "..."' for name in KEYED_PROVIDER_NAMES) + "}"
# After a failed refresh, try again this soon rather than a whole TTL later.
RETRY_SECONDS = 30.0


class SecretSource(ABC):
    # Names the secret in messages and logs, e.g. "AWS Secrets Manager secret 'ai-proxy/api-keys'".
    description: str = "secret source"
    # True when there is nothing to re-read (keys fixed at process start).
    static: bool = False

    def __init__(self, refresh_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._keys: Keys | None = None
        self._next_refresh = 0.0
        self._lock = threading.Lock()

    @abstractmethod
    def fetch(self) -> Keys:
        """Read the keys now (blocking). ConfigError naming the secret when it cannot."""

    def load(self) -> Keys:
        """Cold start: read the secret; any failure is fatal and raised as ConfigError."""
        with self._lock:
            try:
                keys = self.fetch()
            except ConfigError:
                raise
            except Exception as exc:
                raise ConfigError(
                    f"could not read {self.description}: {type(exc).__name__}"
                ) from None
            self._install(keys)
        log.info(
            "loaded API keys for %s from %s",
            ", ".join(sorted(keys)) or "no provider",
            self.description,
        )
        return dict(keys)

    @property
    def expired(self) -> bool:
        if self._keys is None:
            return True
        return not self.static and self.refresh_seconds > 0 and self._clock() >= self._next_refresh

    @property
    def keys(self) -> Keys:
        """The cached keys as they are (empty before `load`); never reads the secret."""
        return dict(self._keys or {})

    def get_keys(self) -> Keys:
        """The cached keys, re-read first when the TTL has passed."""
        if self._keys is None:
            return self.load()
        if self.expired:
            self.refresh()
        return dict(self._keys)

    def refresh(self) -> bool:
        """Re-read now; on failure keep the last good keys, log a warning and return False."""
        with self._lock:
            try:
                keys = self.fetch()
            except Exception as exc:  # whatever the SDK raised, serving goes on with old keys
                reason = str(exc) if isinstance(exc, ConfigError) else type(exc).__name__
                self._next_refresh = self._clock() + min(RETRY_SECONDS, self.refresh_seconds)
                log.warning(
                    "could not refresh API keys (%s); keeping the keys loaded earlier", reason
                )
                return False
            changed = keys != self._keys
            self._install(keys)
        if changed:
            log.info(
                "API keys from %s changed; now serving %s",
                self.description,
                ", ".join(sorted(keys)) or "no provider",
            )
        return True

    async def refresh_forever(
        self, install: Callable[[Keys], None], failed: Callable[[], None] | None = None
    ) -> None:
        """Background refresh: re-read on expiry in a worker thread (the SDKs block)."""
        if self.static or self.refresh_seconds <= 0:
            return
        while True:
            await asyncio.sleep(max(self._next_refresh - self._clock(), 0.0))
            if await asyncio.to_thread(self.refresh):
                install(self.keys)
            elif failed is not None:
                failed()

    def _install(self, keys: Keys) -> None:
        self._keys = dict(keys)
        self._next_refresh = self._clock() + self.refresh_seconds


def keys_from_json(text: str | bytes, description: str) -> Keys:
    """A secret holding {"gemini": "...", ...} -> keys; ConfigError naming the secret otherwise."""
    try:
        payload = orjson.loads(text)
    except orjson.JSONDecodeError:
        # The decoder's message may quote the document, which is the secret: say nothing of it.
        raise ConfigError(
            f"{description} is not valid JSON; expected an object like {EXPECTED_SHAPE}"
        ) from None
    if not isinstance(payload, dict):
        raise ConfigError(f"{description} must be a JSON object like {EXPECTED_SHAPE}")
    return check_keys(payload, description)


def check_keys(payload: Mapping[str, object], description: str) -> Keys:
    """Provider name -> key, each a string; empty strings mean "not configured". `redis_url`
    may stand next to them (it alone is not enough: the secret is the provider keys')."""
    expected = ", ".join(SECRET_NAMES)
    for name in payload:
        if name not in SECRET_NAMES:
            # A short identifier is a misspelt provider; anything else may be a pasted key.
            shown = repr(name) if len(name) <= 32 and name.replace("_", "").isalnum() else "key"
            raise ConfigError(f"{description} has an unknown {shown}; expected {expected}")
    keys: Keys = {}
    for name, value in payload.items():
        if not isinstance(value, str):
            raise ConfigError(f"{description}: the value of '{name}' must be a string")
        if value.strip():
            keys[name] = value.strip()
    if not keys.keys() - {REDIS_URL}:
        raise ConfigError(f"{description} holds no API key; expected {EXPECTED_SHAPE}")
    return keys
