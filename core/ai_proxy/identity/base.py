"""The platform's own credentials for an upstream: a role, a service account, a managed identity.

A cloud provider (Bedrock, Vertex AI, Azure OpenAI) reached without a stored key holds an
`Identity`. It is resolved at cold start with the cloud's own library, like a secret
(`load`, blocking, in the start-up thread), then kept fresh before it expires: by a background
task where the process keeps running (`refresh_forever`), or lazily before a request where
the platform freezes it between requests (`refresh_if_due`). The request path never blocks:
`authorize` signs or stamps a request with the material already in hand.

An identity that cannot be resolved does not stop start-up (the other upstreams still serve):
it is one log line naming what is missing, and a request routed to it is answered with an
error that says the same (`ProviderNotConfigured`, so a fallback chain moves on). Credential
material is never logged, and every token is registered for redaction.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from ..errors import ProviderNotConfigured
from ..logs import register_secrets

if TYPE_CHECKING:
    from ..providers.base import UpstreamRequest

log = logging.getLogger("ai_proxy.identity")

Material = TypeVar("Material")
# Material without an expiry of its own (static keys, botocore's self-refreshing credentials)
# is looked at again this often.
DEFAULT_REFRESH_SECONDS = 300.0
# Refresh this long before the expiry; a token living less than twice as long, at half its life.
EXPIRY_MARGIN_SECONDS = 300.0
# After a failed refresh, try again this soon.
RETRY_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Fetched(Generic[Material]):
    """Credential material and when it expires (epoch seconds), if it says."""

    material: Material
    expires_at: float | None = None
    # Strings in the material to redact wherever they might appear (tokens, secret keys).
    secrets: tuple[str, ...] = ()


class Identity(ABC, Generic[Material]):
    """One provider's platform credentials, cached; see the module docstring."""

    def __init__(self, provider: str, clock: Callable[[], float] = time.time) -> None:
        self.provider = provider
        self._clock = clock
        self._current: Fetched[Material] | None = None
        self._refresh_at = 0.0
        self._problem = "its credentials have not been resolved yet"
        self._lock = threading.Lock()
        self.loaded = False

    @property
    @abstractmethod
    def description(self) -> str:
        """What is asked for, in logs and errors, e.g. "the AWS credential chain"."""

    @abstractmethod
    def fetch(self) -> Fetched[Material]:
        """Resolve the credentials now (blocking: the cloud libraries do I/O). Raise with a
        message that names what is missing; it is logged and shown without a secret in it."""

    @abstractmethod
    def sign(self, request: UpstreamRequest, material: Material) -> None:
        """Add what authenticates `request` (headers) from `material`; never blocks."""

    def load(self) -> bool:
        """Cold start: resolve once. A failure is a log line, not a failed start."""
        self.loaded = True
        if not self.refresh():
            return False
        log.info("%s upstream: credentials from %s", self.provider, self.description)
        return True

    def refresh(self) -> bool:
        """Resolve again (blocking); on failure the last good material is kept until it expires."""
        with self._lock:
            try:
                fetched = self.fetch()
            except Exception as exc:
                self._problem = _one_line(exc)
                self._refresh_at = self._clock() + RETRY_SECONDS
                log.warning(
                    "%s upstream: no credentials from %s: %s",
                    self.provider,
                    self.description,
                    self._problem,
                )
                return False
            register_secrets(fetched.secrets)
            self._current = fetched
            self._refresh_at = self._next_refresh(fetched)
            return True

    @property
    def due(self) -> bool:
        return self.loaded and self._clock() >= self._refresh_at

    def refresh_if_due(self) -> None:
        """For platforms that freeze between requests (blocking; run it in a thread)."""
        if self.due:
            self.refresh()

    async def refresh_forever(self) -> None:
        """Background refresh before expiry, in a worker thread; cancelled at shutdown."""
        while True:
            await asyncio.sleep(max(self._refresh_at - self._clock(), 1.0))
            await asyncio.to_thread(self.refresh)

    def authorize(self, request: UpstreamRequest) -> None:
        """Sign `request` with the material in hand, or say why there is none."""
        self.sign(request, self.usable())

    def usable(self) -> Material:
        """The material in hand; ProviderNotConfigured naming the problem when there is none
        (never resolved, or expired with every refresh since failing)."""
        current = self._current
        if current is None or (
            current.expires_at is not None and self._clock() >= current.expires_at
        ):
            raise ProviderNotConfigured(
                f"{self.provider} has no usable credentials from {self.description}: "
                f"{self._problem}"
            )
        return current.material

    def close(self) -> None:
        """Shutdown (blocking): let background work of the identity's own finish."""

    def _next_refresh(self, fetched: Fetched[Material]) -> float:
        now = self._clock()
        if fetched.expires_at is None:
            return now + DEFAULT_REFRESH_SECONDS
        lifetime = fetched.expires_at - now
        return now + max(lifetime - min(EXPIRY_MARGIN_SECONDS, lifetime / 2), 0.0)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
