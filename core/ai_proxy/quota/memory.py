"""`MemoryStore`: the limit store of one instance, the default (nothing to run).

It keeps its state in dicts keyed by client name, so it is bounded by the configured keys;
within a key, periods that ended and ledger days older than the retention are dropped as they
are passed. No lock: every call runs to completion on the one event loop without awaiting.
The semantics are the Redis store's (tests/quota/test_store_contract.py runs both), with the
instance's clock in place of Redis's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from .store import KeyLimits, LimitName, Refusal, Spend, UsageRow

DAY_SECONDS = 86400
CONCURRENCY_RETRY_AFTER = 1.0  # a lease frees when some request ends: no time is known


@dataclass(slots=True)
class _Bucket:
    """A token bucket's balance as of `at` (Unix seconds)."""

    balance: float
    at: float

    def refilled(self, size: float, rate: float, now: float) -> float:
        return min(size, self.balance + max(0.0, now - self.at) * rate)


@dataclass(slots=True)
class _Period:
    """One budget period's spend so far; `name` identifies the UTC day or month."""

    name: str
    tokens: int = 0
    nanousd: int = 0


@dataclass(slots=True)
class _Ledger:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    nanousd: int = 0

    def add(self, spend: Spend) -> None:
        self.requests += 1
        self.input_tokens += spend.input_tokens
        self.output_tokens += spend.output_tokens
        self.cache_read_tokens += spend.cache_read_tokens
        self.cache_write_tokens += spend.cache_write_tokens
        self.nanousd += spend.nanousd


@dataclass(slots=True)
class _ClientState:
    requests: _Bucket | None = None
    tokens: _Bucket | None = None
    leases: dict[str, float] = field(default_factory=dict)  # lease -> its expiry
    day: _Period = field(default_factory=lambda: _Period(""))  # the latest UTC day's spend
    month: _Period = field(default_factory=lambda: _Period(""))
    ledger: dict[date, dict[str, _Ledger]] = field(default_factory=dict)  # day -> model -> use


@dataclass(frozen=True, slots=True)
class _Periods:
    """The UTC day and month holding an instant, and the Unix times they end."""

    day: date
    day_end: float
    month_end: float

    @classmethod
    def at(cls, now: float) -> _Periods:
        today = datetime.fromtimestamp(now, UTC).date()
        next_month = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
        return cls(today, _unix(today + timedelta(days=1)), _unix(next_month))

    @property
    def day_name(self) -> str:
        return self.day.strftime("%Y%m%d")

    @property
    def month_name(self) -> str:
        return self.day.strftime("%Y%m")


def _current(period: _Period, name: str) -> _Period:
    """`period` if it is the one named, else the named one, empty (the old one has ended)."""
    return period if period.name == name else _Period(name)


def _unix(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


class MemoryStore:
    name: Literal["memory", "redis"] = "memory"

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        lease_seconds: float,
        retention_days: int,
    ) -> None:
        self._clock = clock
        self._lease_seconds = lease_seconds
        self._retention_days = retention_days
        self._clients: dict[str, _ClientState] = {}

    async def admit(self, client: str, limits: KeyLimits, lease: str) -> Refusal | None:
        now = self._clock()
        state = self._clients.setdefault(client, _ClientState())
        refusal = self._refusal(state, limits, now)
        if refusal is not None:
            return refusal
        if limits.requests_per_minute:
            size, rate = _request_bucket(limits)
            balance = state.requests.refilled(size, rate, now) if state.requests else size
            state.requests = _Bucket(balance - 1, now)
        if limits.concurrent_requests:
            state.leases[lease] = now + self._lease_seconds
        return None

    def _refusal(self, state: _ClientState, limits: KeyLimits, now: float) -> Refusal | None:
        if limits.concurrent_requests:
            state.leases = {lease: end for lease, end in state.leases.items() if end > now}
            if len(state.leases) >= limits.concurrent_requests:
                return Refusal("concurrent_requests", CONCURRENCY_RETRY_AFTER)
        if limits.requests_per_minute and state.requests is not None:
            size, rate = _request_bucket(limits)
            balance = state.requests.refilled(size, rate, now)
            if balance < 1:
                return Refusal("requests_per_minute", (1 - balance) / rate)
        if limits.tokens_per_minute and state.tokens is not None:
            size, rate = _token_bucket(limits)
            balance = state.tokens.refilled(size, rate, now)
            if balance <= 0:
                return Refusal("tokens_per_minute", (1 - balance) / rate)
        return self._budget_refusal(state, limits, now)

    def _budget_refusal(self, state: _ClientState, limits: KeyLimits, now: float) -> Refusal | None:
        periods = _Periods.at(now)
        day = state.day = _current(state.day, periods.day_name)
        month = state.month = _current(state.month, periods.month_name)
        budgets: tuple[tuple[LimitName, int, int, float], ...] = (
            ("daily_tokens", limits.daily_tokens, day.tokens, periods.day_end),
            ("daily_usd", limits.daily_nanousd, day.nanousd, periods.day_end),
            ("monthly_tokens", limits.monthly_tokens, month.tokens, periods.month_end),
            ("monthly_usd", limits.monthly_nanousd, month.nanousd, periods.month_end),
        )
        for name, limit, spent, ends in budgets:
            if limit and spent >= limit:
                return Refusal(name, ends - now, ends)
        return None

    async def settle(
        self, client: str, limits: KeyLimits, lease: str | None, spend: Spend | None
    ) -> None:
        state = self._clients.get(client)
        if state is None:
            if spend is None:
                return
            state = self._clients[client] = _ClientState()
        if lease is not None:
            state.leases.pop(lease, None)
        if spend is None:
            return
        now = self._clock()
        if limits.tokens_per_minute:
            size, rate = _token_bucket(limits)
            balance = state.tokens.refilled(size, rate, now) if state.tokens else size
            state.tokens = _Bucket(balance - spend.tokens, now)
        periods = _Periods.at(now)
        state.day = _current(state.day, periods.day_name)
        state.month = _current(state.month, periods.month_name)
        # Kept with or without a budget, so a budget configured mid-month counts the month.
        for period in (state.day, state.month):
            period.tokens += spend.tokens
            period.nanousd += spend.nanousd
        self._ledger_day(state, periods.day).setdefault(spend.model, _Ledger()).add(spend)

    def _ledger_day(self, state: _ClientState, today: date) -> dict[str, _Ledger]:
        if today not in state.ledger:
            oldest = today - timedelta(days=self._retention_days - 1)
            state.ledger = {day: use for day, use in state.ledger.items() if day >= oldest}
            state.ledger[today] = {}
        return state.ledger[today]

    async def usage(self, clients: list[str], first: date, last: date) -> list[UsageRow]:
        first = max(first, last - timedelta(days=self._retention_days - 1))
        rows: list[UsageRow] = []
        for client in clients:
            state = self._clients.get(client)
            days = sorted(state.ledger.items()) if state else []
            for day, models in days:
                if first <= day <= last:
                    rows.extend(
                        _usage_row(client, model, day, use) for model, use in sorted(models.items())
                    )
        return rows

    async def close(self) -> None:
        self._clients.clear()


def _request_bucket(limits: KeyLimits) -> tuple[float, float]:
    """requests_per_minute's bucket: its size and refill per second."""
    return float(limits.burst or limits.requests_per_minute), limits.requests_per_minute / 60


def _token_bucket(limits: KeyLimits) -> tuple[float, float]:
    return float(limits.tokens_per_minute), limits.tokens_per_minute / 60


def _usage_row(client: str, model: str, day: date, use: _Ledger) -> UsageRow:
    return UsageRow(
        client=client,
        model=model,
        day=day,
        requests=use.requests,
        input_tokens=use.input_tokens,
        output_tokens=use.output_tokens,
        cache_read_tokens=use.cache_read_tokens,
        cache_write_tokens=use.cache_write_tokens,
        nanousd=use.nanousd,
    )
