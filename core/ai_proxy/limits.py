"""The per-instance cap on upstream requests in flight.

It sits on every request, so it is a counter and a comparison: no lock (one event loop), no
task, no object per request. A client key's own limits (rates, concurrency, budgets) are the
limit store's, per instance or fleet-wide (ai_proxy.quota); this cap protects the instance.
"""

from __future__ import annotations


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
