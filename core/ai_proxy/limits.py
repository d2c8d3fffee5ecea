"""Per-key request rates and the per-instance cap on upstream requests in flight.

Both sit on every request, so both are a dict lookup and a little arithmetic: no lock (one
event loop), no task, no object per request. The rate limiter is an interface because a fleet
of instances may want one shared budget per key (e.g. a Redis-backed bucket); the in-process
token bucket is the default, and each instance then enforces the rate on its own.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable


class RateLimiter(ABC):
    @abstractmethod
    async def acquire(self, key: str, requests_per_minute: int) -> float:
        """Spend one request of `key`'s budget: 0.0 when allowed, else the seconds to wait."""


class TokenBucketLimiter(RateLimiter):
    """A bucket per key of `burst` tokens, refilled at requests_per_minute / 60 per second.

    Buckets are keyed by client key *name*, so their number is bounded by the configured keys.
    """

    def __init__(self, burst: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self._burst = burst
        self._clock = clock
        # name -> [tokens, last refill time]; a list so the hot path mutates in place.
        self._buckets: dict[str, list[float]] = {}

    async def acquire(self, key: str, requests_per_minute: int) -> float:
        return self.take(key, requests_per_minute)

    def take(self, key: str, requests_per_minute: int) -> float:
        now = self._clock()
        capacity = float(self._burst or requests_per_minute)
        rate = requests_per_minute / 60.0
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = [capacity, now]
        else:
            bucket[0] = min(capacity, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / rate


class ConcurrencyCap:
    """Counts upstream requests in flight; refuses rather than queues beyond the limit.

    Queueing would only move the wait into the gateway, where the client cannot see why it is
    slow and where memory grows with the queue; a 529 lets the client (or a load balancer) back
    off or go elsewhere."""

    __slots__ = ("in_flight", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def try_acquire(self) -> bool:
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    def release(self) -> None:
        self.in_flight -= 1
