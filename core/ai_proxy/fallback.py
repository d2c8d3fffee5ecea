"""The fallback chain: each target of a model in turn, each retried after a jittered pause.

A failure that says `retry_same_target` (ai_proxy.errors) is first retried on the same target,
after a jittered backoff, within the retry budget (ai_proxy.retry); one that says
`try_next_target` then moves on to the next target. All of this happens before the response
starts: once a stream is returned, a failure can only be an SSE error event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .errors import GatewayError
from .observability import RequestRecord
from .retry import RetryPolicy
from .routing import Router, Target

T = TypeVar("T")

# Logged as the gateway: operators filter its fallback and retry lines by this name.
log = logging.getLogger("ai_proxy.gateway")


class Fallbacks:
    def __init__(self, router: Router, policy: RetryPolicy) -> None:
        self._router = router
        self._policy = policy

    async def serve(
        self,
        model: str,
        record: RequestRecord,
        attempt_target: Callable[[Target], Awaitable[T]],
    ) -> T:
        """The first answer of the model's targets; the last target's failure if none serves."""
        targets = self._router.resolve(model)
        policy = self._policy
        for index, target in enumerate(targets):
            record.fallbacks = index
            retries = 0
            while True:
                try:
                    return await attempt_target(target)
                except GatewayError as error:
                    record.attempt_failed(error.status, error.error_type)
                    elapsed = time.perf_counter() - record.started
                    delay = policy.delay(error, retries, elapsed)
                    if delay is None:
                        if not error.try_next_target or index == len(targets) - 1:
                            raise
                        log.info(
                            "falling back from %s after %s: %s", target, error.status, error.message
                        )
                        break
                    retries += 1
                    record.retries += 1
                    log.info(
                        "retrying %s in %.2fs after %s (retry %d of %d): %s",
                        target,
                        delay,
                        error.status,
                        retries,
                        policy.config.max_retries,
                        error.message,
                    )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last target returns or raises")
