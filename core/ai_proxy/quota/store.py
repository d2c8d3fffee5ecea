"""The limit store's interface: what a limit check and a settlement ask of it.

Two stores implement it: `MemoryStore` (ai_proxy.quota.memory, one instance, the default) and
`RedisStore` (ai_proxy.quota.redis, fleet-wide). Each call is one step of a request's life:

    admit   before the upstream call: is the key under every limit? If so, take one request of
            its rate and one slot of its concurrency (a lease, released by `settle`).
    settle  after the answer (a stream: after its end, hang-ups included): release the lease,
            spend the reported tokens and cost, add them to the usage ledger.

Each is one round trip for the Redis store (an atomic server-side script), and the time that
rates, budgets and ledger days are reckoned in is the store's own clock, so instances whose
clocks disagree still agree on every limit. A store that cannot answer raises
`StoreUnavailable`; the caller (ai_proxy.quota.policy) decides what the request gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

LimitName = Literal[
    "requests_per_minute",
    "tokens_per_minute",
    "concurrent_requests",
    "daily_tokens",
    "monthly_tokens",
    "daily_usd",
    "monthly_usd",
]

NANO = 1_000_000_000  # costs travel as integer nano-USD: exact sums, no float drift in Redis


class StoreUnavailable(Exception):
    """The store did not answer in time or at all (the message names why, never the URL)."""


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """One client key's limits; 0 everywhere means "none"."""

    requests_per_minute: int = 0
    burst: int = 0  # the rate bucket's size; 0 = requests_per_minute
    tokens_per_minute: int = 0
    concurrent_requests: int = 0
    daily_tokens: int = 0
    monthly_tokens: int = 0
    daily_nanousd: int = 0
    monthly_nanousd: int = 0

    @property
    def any(self) -> bool:
        """Whether admission has anything to check for this key."""
        return bool(
            self.requests_per_minute
            or self.tokens_per_minute
            or self.concurrent_requests
            or self.daily_tokens
            or self.monthly_tokens
            or self.daily_nanousd
            or self.monthly_nanousd
        )


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why `admit` said no: the first limit found exhausted."""

    limit: LimitName
    retry_after: float  # seconds until it frees up (a budget: until its period resets)
    resets_at: float | None = None  # budgets: the Unix time their period ends (store clock)


@dataclass(frozen=True, slots=True)
class Spend:
    """What one request used, as the answer reported it."""

    model: str  # the upstream model that served (the ledger's and the price table's key)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    nanousd: int = 0

    @property
    def tokens(self) -> int:
        """What tokens_per_minute and the token budgets count: every token processed."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One ledger entry: a client key's use of one model on one UTC day."""

    client: str
    model: str
    day: date
    requests: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    nanousd: int


class LimitStore(Protocol):
    name: Literal["memory", "redis"]

    async def admit(self, client: str, limits: KeyLimits, lease: str) -> Refusal | None:
        """None and the request counted (and `lease` held, when concurrency is limited), or why
        not (nothing taken). `lease` is unique per request."""

    async def settle(
        self, client: str, limits: KeyLimits, lease: str | None, spend: Spend | None
    ) -> None:
        """Release `lease` (if admitted with one) and, with a `spend`, record it: the rate
        and budget counters of `limits` and the ledger (one request, its tokens, its cost)."""

    async def usage(self, clients: list[str], first: date, last: date) -> list[UsageRow]:
        """The ledger entries of `clients` from day `first` to day `last`, both included."""

    async def close(self) -> None: ...
