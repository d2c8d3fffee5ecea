"""The gateway's side of the limits: each key's limits, admit before, settle after, store errors.

`Quota` turns the config into one `KeyLimits` per client key (the `limits` defaults, each
overridden by the key's own entry), asks the store (ai_proxy.quota.store) at the two points of
a request's life, and decides what a client sees:

    admit   a key with no limit is not asked about at all; a refusal is a 429 naming the limit
            (a budget: also when it resets), never retried nor sent to a fallback target.
    settle  once per request that got past admission, whatever its end (JSON, stream, error,
            a client hanging up): the lease goes back, the usage the answer reported is spent.

A store that does not answer is the `limits.on_store_error` policy's: "allow" serves (one
warning per interval, never the URL, and a count for the observers), "deny" answers 529.
Settling never fails a request: its errors are logged and counted the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import secrets
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from ..auth import ClientKey
from ..config import ClientKeyConfig, Config, ConfigError, LimitsConfig
from ..errors import Overloaded, RateLimited
from ..observability import RequestRecord
from ..providers.registry import PROVIDER_NAMES
from .prices import PriceTable
from .store import NANO, KeyLimits, LimitStore, Refusal, Spend, StoreUnavailable, UsageRow

log = logging.getLogger("ai_proxy.quota")

# A lease outlives the longest request (a crashed instance's leases free themselves then).
LEASE_MARGIN_SECONDS = 60.0
MAX_UNPRICED_NOTED = 100

_UNITS = {
    "requests_per_minute": "requests per minute",
    "tokens_per_minute": "tokens per minute",
    "concurrent_requests": "requests at once",
}
_BUDGETS = {
    "daily_tokens": "daily",
    "monthly_tokens": "monthly",
    "daily_usd": "daily",
    "monthly_usd": "monthly",
}


def key_limits(defaults: LimitsConfig, key: ClientKeyConfig | None) -> KeyLimits:
    """The limits of `key`: its own where set, else the defaults; USD -> nano-USD."""

    def pick(name: str) -> float:
        own = None if key is None else getattr(key, name)
        value: float = getattr(defaults, name) if own is None else own
        return value

    return KeyLimits(
        requests_per_minute=int(pick("requests_per_minute")),
        burst=defaults.burst,
        tokens_per_minute=int(pick("tokens_per_minute")),
        concurrent_requests=int(pick("concurrent_requests")),
        daily_tokens=int(pick("daily_tokens")),
        monthly_tokens=int(pick("monthly_tokens")),
        daily_nanousd=round(pick("daily_usd") * NANO),
        monthly_nanousd=round(pick("monthly_usd") * NANO),
    )


def url_secrets(url: str | None) -> list[str]:
    """What of a Redis URL must never reach a log line: the URL and its password."""
    if url is None:
        return []
    password = urlsplit(url).password
    return [url] if not password else [url, password]


def build_store(config: Config, redis_url: str | None) -> LimitStore:
    """The configured store; RedisStore (and redis-py) imported only when it is the one."""
    limits = config.limits
    lease_seconds = LEASE_MARGIN_SECONDS + max(
        config.providers.get(name).timeouts.total_seconds for name in PROVIDER_NAMES
    )
    if limits.store == "memory":
        from .memory import MemoryStore

        return MemoryStore(lease_seconds=lease_seconds, retention_days=limits.usage_retention_days)
    if redis_url is None:
        raise ConfigError(
            'limits.store = "redis" needs a URL: set limits.redis_url '
            "(AI_PROXY_LIMITS__REDIS_URL) or put redis_url in the secret"
        )
    from .redis import RedisStore

    return RedisStore(
        redis_url,
        cluster=limits.redis_cluster,
        key_prefix=limits.redis_key_prefix,
        timeout_seconds=limits.store_timeout_ms / 1000,
        lease_seconds=lease_seconds,
        retention_days=limits.usage_retention_days,
    )


class Quota:
    """One per gateway. `failed(store)` tells the observers that a store call failed."""

    def __init__(self, config: Config, failed: Callable[[str], None]) -> None:
        self._config = config
        settings = config.limits
        self.retention_days = settings.usage_retention_days
        self._deny = settings.on_store_error == "deny"
        self._warn_interval = settings.store_error_log_interval_seconds
        self._warned_at = -math.inf
        self._failed = failed
        self.prices = PriceTable(settings.prices)
        self._default = key_limits(settings, None)
        self._limits = {key.name: key_limits(settings, key) for key in config.auth.client_keys}
        self._unpriced: set[str] = set()
        # Unique across the fleet: this process's random prefix and a counter.
        self._lease_prefix = secrets.token_hex(8)
        self._leases = itertools.count()
        self._pending: set[asyncio.Task[None]] = set()
        self.store: LimitStore | None = None
        if settings.store == "memory" or settings.redis_url is not None:
            self.start(settings.redis_url)
        elif config.secrets.source == "env":
            self.start(None)  # no secret will bring a URL: the ConfigError now

    def start(self, redis_url: str | None) -> None:
        """Build the store, once; the URL from the config wins over the secret's."""
        if self.store is None:
            self.store = build_store(self._config, self._config.limits.redis_url or redis_url)

    def limits_of(self, name: str) -> KeyLimits:
        return self._limits.get(name, self._default)

    async def admit(self, key: ClientKey, record: RequestRecord) -> None:
        """Raise RateLimited if `key` is over a limit (Overloaded: store down under "deny")."""
        limits = self.limits_of(key.name)
        if not limits.any:
            return
        store = self._started()
        lease = f"{self._lease_prefix}:{next(self._leases)}"
        try:
            refusal = await store.admit(key.name, limits, lease)
        except StoreUnavailable as error:
            self._store_failed(error)
            if self._deny:
                raise Overloaded(
                    f"the limit store ({store.name}) is unavailable, and limits.on_store_error "
                    "is deny; retry shortly",
                    try_next_target=False,
                ) from None
            return
        if refusal is not None:
            record.limit_refused = refusal.limit
            raise refused(key.name, limits, refusal)
        record.lease = lease

    async def settle(self, record: RequestRecord) -> None:
        """Release the request's lease and spend its usage; once per request, never raises.

        Cancellation (a hang-up, a shutdown) can reach a settle already under way: then it runs
        on in a task of its own rather than leave the lease held and the tokens unspent."""
        name = record.client_name
        if record.settled or name is None:
            return
        record.settled = True
        spend = self._spend(record)
        lease = record.lease
        if lease is None and spend is None:
            return
        settling = self._settle(name, lease, spend)
        task = asyncio.current_task()
        if task is None or not task.cancelling():
            await settling
            return
        pending = asyncio.ensure_future(settling)
        self._pending.add(pending)
        pending.add_done_callback(self._pending.discard)
        # A second cancellation leaves it to finish by itself (drain() waits for it); the
        # first is already on its way up.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(pending)

    async def _settle(self, name: str, lease: str | None, spend: Spend | None) -> None:
        store = self._started()
        try:
            await store.settle(name, self.limits_of(name), lease, spend)
        except StoreUnavailable as error:
            self._store_failed(error)

    async def usage(self, clients: list[str], first: date, last: date) -> list[UsageRow]:
        """The ledger (GET /v1/usage); a store that does not answer is a 529."""
        store = self._started()
        try:
            return await store.usage(clients, first, last)
        except StoreUnavailable as error:
            self._store_failed(error)
            raise Overloaded(
                f"the limit store ({store.name}) holding the usage ledger is unavailable; "
                "retry shortly",
                try_next_target=False,
            ) from None

    def _spend(self, record: RequestRecord) -> Spend | None:
        """What the serving upstream reported (None: no provider answered with usage)."""
        model, usage = record.upstream_model, record.usage
        if model is None or not usage:
            return None
        counts = (
            usage.get("input_tokens", 0),
            usage.get("output_tokens", 0),
            usage.get("cache_read_input_tokens", 0),
            usage.get("cache_creation_input_tokens", 0),
        )
        price = self.prices.find(model)
        if price is None:
            if model not in self._unpriced and len(self._unpriced) < MAX_UNPRICED_NOTED:
                self._unpriced.add(model)
                log.debug("no price for model %r: its requests cost 0 (limits.prices)", model)
            cost = 0
        else:
            cost = price.nanousd(*counts)
        return Spend(model, *counts, nanousd=cost)

    def _started(self) -> LimitStore:
        store = self.store
        if store is None:  # start() runs at construction or right after the secret is read
            raise RuntimeError("the limit store is used before Gateway.load_secrets")
        return store

    def _store_failed(self, error: StoreUnavailable) -> None:
        self._failed(self._started().name)
        now = time.monotonic()
        if now - self._warned_at >= self._warn_interval:
            self._warned_at = now
            action = "answering 529" if self._deny else "serving without limits"
            log.warning(
                "the limit store (%s) is unavailable (%s); %s (limits.on_store_error); "
                "next warning in %gs at the earliest",
                self._started().name,
                error,
                action,
                self._warn_interval,
            )

    async def drain(self) -> None:
        """Wait for the settles that went on by themselves after a cancellation."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        if self.store is not None:
            await self.store.close()


def refused(client: str, limits: KeyLimits, refusal: Refusal) -> RateLimited:
    """The 429 a refusal becomes: the limit and its value, a budget's reset time."""
    retry_after = str(max(1, math.ceil(refusal.retry_after)))
    limit = refusal.limit
    if limit in _BUDGETS:
        value = getattr(limits, limit.replace("_usd", "_nanousd"))
        amount = _dollars(value) if limit.endswith("_usd") else f"{value:,} tokens"
        resets_at = refusal.resets_at or time.time() + refusal.retry_after
        resets = datetime.fromtimestamp(resets_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        message = (
            f"client key '{client}' has used its {_BUDGETS[limit]} budget of {amount} "
            f"(limits.{limit}); it resets at {resets}"
        )
    else:
        message = (
            f"client key '{client}' is over its limit of {getattr(limits, limit):,} "
            f"{_UNITS[limit]} (limits.{limit})"
        )
    return RateLimited(
        message, retry_after=retry_after, retry_same_target=False, try_next_target=False
    )


def _dollars(nanousd: int) -> str:
    """$5.00, $1,250.50, and a budget under a cent as it was set: $0.00005."""
    units, _, cents = f"{nanousd / NANO:,.9f}".rstrip("0").partition(".")
    return f"${units}.{cents.ljust(2, '0')}"
