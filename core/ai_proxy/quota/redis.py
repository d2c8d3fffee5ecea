"""`RedisStore`: limits, budgets and the usage ledger shared by every instance (limits.store
= "redis"), on redis-py's asyncio client. Imported only when configured.

Each admit and each settle is one atomic Lua script (lua/admit.lua, lua/settle.lua, both
prefixed with lua/common.lua), run by EVALSHA in one round trip; calls made at the same
moment share it (ai_proxy.quota.pipelining), and a restarted Redis's NOSCRIPT loads the
script again. The scripts read Redis's TIME, never this instance's
clock, so instances with skewed clocks agree, and give every key they write a TTL.

A client's keys are `<prefix>:{<client>}:...`: the braces make the client name a Redis
Cluster hash tag, so every key one script touches lives in one slot.

Failures: connecting and each read give up after `timeout_seconds` (redis-py's socket
timeouts), without client-side retries, and any error becomes `StoreUnavailable` naming the
error's kind only (the URL holds a password). No deadline wraps the whole call: one did
count event-loop waits as Redis's, and timed out when 64 requests opened connections at once.
After a failure the store fails fast for `FAIL_FAST_SECONDS`, then one call probes again, so
an outage costs requests nothing but that one probe's timeout; redis-py reconnects by itself.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from importlib import resources
from typing import Any, Literal, TypeVar, get_args

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .pipelining import ScriptPipeliner
from .store import KeyLimits, LimitName, Refusal, Spend, StoreUnavailable, UsageRow

FAIL_FAST_SECONDS = 1.0
# Enough connections for a few hundred calls in flight; redis-py's default (100) would
# refuse the 101st outright instead of queueing it.
MAX_CONNECTIONS = 512
# The scripts' refusal codes, 1-based: admit.lua returns the index into this tuple.
_REFUSALS: tuple[LimitName, ...] = get_args(LimitName)

T = TypeVar("T")


def _script(name: str) -> str:
    lua = resources.files("ai_proxy.quota").joinpath("lua")
    return lua.joinpath("common.lua").read_text() + lua.joinpath(name).read_text()


class RedisStore:
    name: Literal["memory", "redis"] = "redis"

    def __init__(
        self,
        url: str,
        *,
        cluster: bool,
        key_prefix: str,
        timeout_seconds: float,
        lease_seconds: float,
        retention_days: int,
        clock_offset_seconds: float = 0.0,
    ) -> None:
        """`clock_offset_seconds` is added to Redis's time in the scripts: tests use it to
        stand just before a UTC day or month boundary (libfaketime cannot run redis-server)."""
        options: dict[str, Any] = {
            "socket_connect_timeout": timeout_seconds,
            "socket_timeout": timeout_seconds,
            "retry": Retry(NoBackoff(), 0),
            "max_connections": MAX_CONNECTIONS,
            # A new connection costs its TCP handshake only (and AUTH, with a password): no
            # HELLO 3, no CLIENT SETINFO. A burst that opens 64 at once on a busy event loop
            # otherwise saw reads pass 50 ms; RESP2 carries these scripts' replies as well.
            "protocol": 2,
            "driver_info": None,
        }
        self._client: redis.asyncio.Redis | redis.asyncio.RedisCluster = (
            redis.asyncio.RedisCluster.from_url(url, **options)
            if cluster
            else redis.asyncio.from_url(url, **options)
        )
        self._admit = self._client.register_script(_script("admit.lua"))
        self._settle = self._client.register_script(_script("settle.lua"))
        self._pipeliner = ScriptPipeliner(self._client)
        self._prefix = key_prefix
        self._retention_days = retention_days
        self._settings = f"{clock_offset_seconds!r} {lease_seconds!r} {retention_days}"
        self._down_until = 0.0  # monotonic time before which calls fail fast
        self._probing = False

    @property
    def client(self) -> redis.asyncio.Redis | redis.asyncio.RedisCluster:
        """The connection pool, which other fleet state (kept responses) borrows: this store
        owns it and closes it."""
        return self._client

    def _base(self, client: str) -> list[str]:
        """The scripts' one key: the client's prefix, every key they touch is named from it."""
        return [f"{self._prefix}:{{{client}}}:"]

    async def admit(self, client: str, limits: KeyLimits, lease: str) -> Refusal | None:
        args = (self._settings, _packed_limits(limits), lease)
        reply = await self._call(lambda: self._pipeliner.run(self._admit, self._base(client), args))
        code = int(reply[0])
        if code == 0:
            return None
        resets_at = reply[2].decode()
        return Refusal(
            _REFUSALS[code - 1], float(reply[1]), float(resets_at) if resets_at else None
        )

    async def settle(
        self, client: str, limits: KeyLimits, lease: str | None, spend: Spend | None
    ) -> None:
        if lease is None and spend is None:
            return
        args: tuple[str | int, ...] = (self._settings, lease or "", limits.tokens_per_minute)
        if spend is not None:
            counts = (
                spend.input_tokens,
                spend.output_tokens,
                spend.cache_read_tokens,
                spend.cache_write_tokens,
                spend.nanousd,
            )
            args += (spend.model, " ".join(map(str, counts)))
        await self._call(lambda: self._pipeliner.run(self._settle, self._base(client), args))

    async def usage(self, clients: list[str], first: date, last: date) -> list[UsageRow]:
        """One pipeline of HGETALLs, one per client and day (the range capped at retention)."""
        first = max(first, last - timedelta(days=self._retention_days - 1))
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        asked = [(client, day) for client in clients for day in days]

        async def read() -> list[Any]:
            pipeline = self._client.pipeline(transaction=False)
            for client, day in asked:
                pipeline.hgetall(f"{self._prefix}:{{{client}}}:usage:{day:%Y%m%d}")
            return await pipeline.execute()

        replies = await self._call(read) if asked else []
        rows: list[UsageRow] = []
        for (client, day), fields in zip(asked, replies, strict=True):
            rows.extend(_usage_rows(client, day, fields))
        return rows

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        if self._probing or time.monotonic() < self._down_until:
            raise StoreUnavailable("redis: failing fast after a recent error")
        probing = self._down_until > 0
        self._probing = probing
        try:
            result = await call()
        except Exception as error:
            # Not only RedisError and OSError: a URL option the connection class does not take
            # is a TypeError at the first connect. Whatever it is, the request must get the
            # on_store_error policy, never a 500.
            self._down_until = time.monotonic() + FAIL_FAST_SECONDS
            # The error's kind only: redis-py's messages may name the host, and chaining
            # would carry them into any traceback logged above us.
            raise StoreUnavailable(f"redis: {type(error).__name__}") from None
        finally:
            if probing:
                self._probing = False
        self._down_until = 0.0
        return result


@functools.lru_cache(maxsize=1024)
def _packed_limits(limits: KeyLimits) -> str:
    """admit.lua's ARGV[2]; cached, as a key's limits are the same on each of its requests."""
    return " ".join(
        str(limit)
        for limit in (
            limits.requests_per_minute,
            limits.burst,
            limits.tokens_per_minute,
            limits.concurrent_requests,
            limits.daily_tokens,
            limits.daily_nanousd,
            limits.monthly_tokens,
            limits.monthly_nanousd,
        )
    )


def _usage_rows(client: str, day: date, fields: dict[bytes, bytes]) -> list[UsageRow]:
    """One ledger hash's rows; its fields are "<counter>:<model>" (settle.lua names them)."""
    counters: dict[str, dict[str, int]] = {}
    for field, value in fields.items():
        counter, _, model = field.decode().partition(":")
        counters.setdefault(model, {})[counter] = int(value)
    return [
        UsageRow(
            client=client,
            model=model,
            day=day,
            requests=found.get("n", 0),
            input_tokens=found.get("i", 0),
            output_tokens=found.get("o", 0),
            cache_read_tokens=found.get("cr", 0),
            cache_write_tokens=found.get("cw", 0),
            nanousd=found.get("u", 0),
        )
        for model, found in sorted(counters.items())
    ]
