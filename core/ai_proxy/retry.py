"""When to try the same upstream target again: exponential backoff with full jitter.

Only failures marked `retry_same_target` (connection refused or reset before a response, upstream
429, 500, 502, 503, 504, 529) are retried, and only before the first byte went to the client;
the gateway's caller decides the latter. A Retry-After from upstream is honoured when it fits
under `max_retry_after_seconds` and the time budget; a longer one ends retries of that target
so the fallback chain (or the client, who gets the Retry-After) takes over.
"""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

from .config import RetriesConfig
from .errors import GatewayError


class RetryPolicy:
    def __init__(self, config: RetriesConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self._rng = rng or random.Random()

    def delay(self, error: GatewayError, retries_done: int, elapsed: float) -> float | None:
        """Seconds to sleep before retrying the same target, or None to stop retrying it."""
        config = self.config
        if not error.retry_same_target or retries_done >= config.max_retries:
            return None
        ceiling = min(config.max_backoff_seconds, config.initial_backoff_seconds * 2**retries_done)
        delay = self._rng.uniform(0.0, ceiling)
        retry_after = parse_retry_after(error.retry_after)
        if retry_after is not None:
            if retry_after > config.max_retry_after_seconds:
                return None
            delay = max(delay, retry_after)
        if elapsed + delay > config.budget_seconds:
            return None
        return delay


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
