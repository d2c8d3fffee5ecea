"""MemoryStore's own behaviour: what its injected clock lets a test see that Redis's cannot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ai_proxy.quota.memory import MemoryStore
from ai_proxy.quota.store import KeyLimits, Spend

START = datetime(2026, 3, 1, 12, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START.timestamp()

    def __call__(self) -> float:
        return self.now


async def test_ledger_days_older_than_the_retention_are_dropped() -> None:
    clock = Clock()
    store = MemoryStore(clock, lease_seconds=30, retention_days=2)
    await store.settle("alice", KeyLimits(), None, Spend("m", input_tokens=1))
    first_day = START.date()
    assert len(await store.usage(["alice"], first_day, first_day)) == 1
    clock.now += timedelta(days=1).total_seconds()
    await store.settle("alice", KeyLimits(), None, Spend("m", input_tokens=1))
    assert len(await store.usage(["alice"], first_day, first_day)) == 1  # still retained
    clock.now += timedelta(days=1).total_seconds()
    await store.settle("alice", KeyLimits(), None, Spend("m", input_tokens=1))
    assert await store.usage(["alice"], first_day, first_day) == []
    rows = await store.usage(["alice"], first_day, first_day + timedelta(days=2))
    assert [row.day for row in rows] == [first_day + timedelta(days=n) for n in (1, 2)]


async def test_month_end_in_a_leap_february() -> None:
    clock = Clock()
    clock.now = datetime(2028, 2, 10, tzinfo=UTC).timestamp()
    store = MemoryStore(clock, lease_seconds=30, retention_days=2)
    limits = KeyLimits(monthly_tokens=1)
    await store.settle("alice", limits, None, Spend("m", input_tokens=1))
    refusal = await store.admit("alice", limits, "x")
    assert refusal is not None
    assert refusal.resets_at == datetime(2028, 3, 1, tzinfo=UTC).timestamp()
