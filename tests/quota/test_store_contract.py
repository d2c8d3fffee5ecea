"""One contract, both stores: every test here runs against MemoryStore and RedisStore.

Time moves in real time in both (Redis's clock cannot be faked), so waits are polls with a
generous deadline and rates are chosen so that a slow machine cannot change an outcome.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime

import pytest
from ai_proxy.quota.store import NANO, KeyLimits, LimitStore, Refusal, Spend, UsageRow

from .conftest import StoreFactory

DEADLINE_SECONDS = 15.0
NEW_YEAR = datetime(2027, 1, 1, tzinfo=UTC).timestamp()
DAY_SECONDS = 86400
BEFORE_BOUNDARY = 3.0  # "now" this long before midnight: time for the spends, then the reset
MIDSUMMER = datetime(2026, 6, 15, 12, tzinfo=UTC)  # far from any boundary


def lease() -> str:
    return uuid.uuid4().hex


async def admit_until_admitted(store: LimitStore, client: str, limits: KeyLimits) -> None:
    """Poll admit until it says yes; fail after DEADLINE_SECONDS."""
    await wait_for(lambda: admitted(store, client, limits), "admitted")


async def admitted(store: LimitStore, client: str, limits: KeyLimits) -> bool:
    return await store.admit(client, limits, lease()) is None


async def wait_for(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await check():
        assert time.monotonic() < deadline, f"not {what} within {DEADLINE_SECONDS} s"
        await asyncio.sleep(0.02)


async def test_rate_bucket_holds_burst_then_refills(store: LimitStore) -> None:
    limits = KeyLimits(requests_per_minute=60, burst=3)
    for _ in range(3):
        assert await store.admit("alice", limits, lease()) is None
    refusal = await store.admit("alice", limits, lease())
    assert refusal is not None
    assert refusal.limit == "requests_per_minute"
    assert 0 < refusal.retry_after <= 1.0  # one token per second comes back
    assert refusal.resets_at is None
    await admit_until_admitted(store, "alice", limits)
    assert await store.admit("bob", limits, lease()) is None  # buckets are per key


async def test_rate_bucket_size_defaults_to_the_rate(store: LimitStore) -> None:
    limits = KeyLimits(requests_per_minute=5)  # refills one every 12 s: none within the test
    results = [await store.admit("alice", limits, lease()) for _ in range(6)]
    assert results[:5] == [None] * 5
    refusal = results[5]
    assert refusal is not None
    assert refusal.limit == "requests_per_minute"
    assert 11 < refusal.retry_after <= 12


async def test_refusal_takes_nothing(store: LimitStore) -> None:
    """A request refused by a later check spends no rate token and holds no lease."""
    limits = KeyLimits(requests_per_minute=2, concurrent_requests=5, daily_tokens=10)
    assert await store.admit("alice", limits, "first") is None
    await store.settle("alice", limits, "first", Spend("m", input_tokens=10))
    for _ in range(5):
        refusal = await store.admit("alice", limits, lease())
        assert refusal is not None
        assert refusal.limit == "daily_tokens"
    unbudgeted = KeyLimits(requests_per_minute=2, concurrent_requests=1)
    assert await store.admit("alice", unbudgeted, "second") is None  # rpm token 2 of 2 left


async def test_token_debt_is_waited_off(store: LimitStore) -> None:
    limits = KeyLimits(tokens_per_minute=600)  # 10 tokens a second
    assert await store.admit("alice", limits, lease()) is None
    await store.settle("alice", limits, None, Spend("m", input_tokens=400, output_tokens=210))
    refusal = await store.admit("alice", limits, lease())
    assert refusal is not None
    assert refusal.limit == "tokens_per_minute"
    assert 0.1 < refusal.retry_after <= 1.1  # -10 tokens of debt, then one more token
    await admit_until_admitted(store, "alice", limits)


async def test_token_admission_knows_only_what_was_spent(store: LimitStore) -> None:
    """A positive balance admits however large the coming request; the debt follows."""
    limits = KeyLimits(tokens_per_minute=60)
    assert await store.admit("alice", limits, "a") is None
    assert await store.admit("alice", limits, "b") is None
    await store.settle("alice", limits, "a", Spend("m", output_tokens=6000))
    refusal = await store.admit("alice", limits, lease())
    assert refusal is not None
    assert refusal.limit == "tokens_per_minute"
    assert refusal.retry_after > 5000  # 5940 tokens owed at one a second


async def test_concurrency_leases_are_released(store: LimitStore) -> None:
    limits = KeyLimits(concurrent_requests=2)
    assert await store.admit("alice", limits, "a") is None
    assert await store.admit("alice", limits, "b") is None
    refusal = await store.admit("alice", limits, "c")
    assert refusal is not None
    assert refusal.limit == "concurrent_requests"
    assert refusal.retry_after > 0
    await store.settle("alice", limits, "a", None)
    assert await store.admit("alice", limits, "c") is None
    assert await store.admit("alice", limits, "d") is not None


async def test_a_lost_lease_expires(make_store: StoreFactory) -> None:
    store = await make_store(lease_seconds=0.3)
    limits = KeyLimits(concurrent_requests=1)
    assert await store.admit("alice", limits, "crashed") is None  # never settled
    assert await store.admit("alice", limits, lease()) is not None
    await admit_until_admitted(store, "alice", limits)


async def test_concurrent_admits_take_exactly_the_rate(store: LimitStore) -> None:
    limits = KeyLimits(requests_per_minute=1, burst=50)  # no refill worth a token in a minute
    results = await asyncio.gather(*(store.admit("alice", limits, lease()) for _ in range(200)))
    assert sum(result is None for result in results) == 50


async def test_concurrent_admits_take_exactly_the_leases(store: LimitStore) -> None:
    limits = KeyLimits(concurrent_requests=10)
    results = await asyncio.gather(*(store.admit("alice", limits, lease()) for _ in range(200)))
    assert sum(result is None for result in results) == 10


async def test_checks_report_in_order(store: LimitStore) -> None:
    """Concurrency, then rpm, then tpm, then budgets: the first exhausted is named."""
    everything = KeyLimits(
        requests_per_minute=1,
        tokens_per_minute=60,
        concurrent_requests=1,
        daily_tokens=1,
        daily_nanousd=1,
        monthly_tokens=1,
        monthly_nanousd=1,
    )
    assert await store.admit("alice", everything, "held") is None
    await store.settle("alice", everything, None, Spend("m", output_tokens=100, nanousd=5))
    expected = [
        (everything, "concurrent_requests"),
        (
            KeyLimits(requests_per_minute=1, tokens_per_minute=60, daily_tokens=1),
            "requests_per_minute",
        ),
        (KeyLimits(tokens_per_minute=60, daily_tokens=1), "tokens_per_minute"),
        (KeyLimits(daily_tokens=1, daily_nanousd=1, monthly_tokens=1), "daily_tokens"),
        (KeyLimits(daily_nanousd=1, monthly_tokens=1), "daily_usd"),
        (KeyLimits(monthly_tokens=1, monthly_nanousd=1), "monthly_tokens"),
        (KeyLimits(monthly_nanousd=1), "monthly_usd"),
    ]
    for limits, name in expected:
        refusal = await store.admit("alice", limits, lease())
        assert refusal is not None
        assert refusal.limit == name


async def test_budgets_reset_at_the_day_and_month_boundary(make_store: StoreFactory) -> None:
    store = await make_store(now_at=NEW_YEAR - BEFORE_BOUNDARY)
    budgets = {
        "daily_tokens": KeyLimits(daily_tokens=100),
        "monthly_tokens": KeyLimits(monthly_tokens=100),
        "daily_usd": KeyLimits(daily_nanousd=NANO),
        "monthly_usd": KeyLimits(monthly_nanousd=NANO),
    }
    spend = Spend("claude-x", input_tokens=60, output_tokens=40, nanousd=NANO)
    for client, limits in budgets.items():
        assert await store.admit(client, limits, lease()) is None
        await store.settle(client, limits, None, spend)
    for client, limits in budgets.items():
        refusal = await store.admit(client, limits, lease())
        assert isinstance(refusal, Refusal)
        assert refusal.limit == client
        assert refusal.resets_at == pytest.approx(NEW_YEAR, abs=1e-3)
        assert 0 < refusal.retry_after <= BEFORE_BOUNDARY
    for client, limits in budgets.items():
        await admit_until_admitted(store, client, limits)
    await store.settle("daily_tokens", budgets["daily_tokens"], None, spend)
    rows = await store.usage(["daily_tokens"], date(2026, 12, 31), date(2027, 1, 1))
    assert [(row.day, row.requests) for row in rows] == [
        (date(2026, 12, 31), 1),
        (date(2027, 1, 1), 1),
    ]


async def test_month_budget_spans_the_days_of_a_month(make_store: StoreFactory) -> None:
    """Spend of earlier days counts toward the month but not toward today."""
    store = await make_store(now_at=NEW_YEAR - DAY_SECONDS - BEFORE_BOUNDARY)
    await store.settle("alice", KeyLimits(), None, Spend("m", input_tokens=99))
    await admit_until_admitted(store, "alice", KeyLimits(daily_tokens=99))  # 2026-12-31 now
    await store.settle("alice", KeyLimits(), None, Spend("m", input_tokens=50))
    refusal = await store.admit("alice", KeyLimits(daily_tokens=100, monthly_tokens=149), lease())
    assert refusal is not None
    assert refusal.limit == "monthly_tokens"
    assert refusal.resets_at == pytest.approx(NEW_YEAR, abs=1e-3)


async def test_ledger_rows_per_client_model_and_day(make_store: StoreFactory) -> None:
    store = await make_store(now_at=MIDSUMMER.timestamp())
    unlimited = KeyLimits()
    await store.settle(
        "alice",
        unlimited,
        None,
        Spend("sonnet", 10, 20, cache_read_tokens=3, cache_write_tokens=4, nanousd=7),
    )
    await store.settle("alice", unlimited, None, Spend("sonnet", 1, 2, nanousd=1))
    await store.settle("alice", unlimited, None, Spend("haiku", 5, 6, nanousd=2))
    await store.settle("bob", unlimited, None, Spend("haiku", 100, 200, nanousd=300))
    await store.settle("alice", unlimited, "a lease", None)  # no spend: no ledger entry
    today = MIDSUMMER.date()
    rows = await store.usage(["alice", "bob"], today, today)
    assert rows == [
        UsageRow("alice", "haiku", today, 1, 5, 6, 0, 0, 2),
        UsageRow("alice", "sonnet", today, 2, 11, 22, 3, 4, 8),
        UsageRow("bob", "haiku", today, 1, 100, 200, 0, 0, 300),
    ]
    assert await store.usage(["bob"], date(2020, 1, 1), date(2020, 1, 31)) == []
    assert await store.usage(["carol"], today, today) == []
    assert await store.usage([], today, today) == []


async def test_usage_range_is_capped_at_the_retention(make_store: StoreFactory) -> None:
    store = await make_store(now_at=NEW_YEAR - 60, retention_days=1)
    await store.settle("alice", KeyLimits(), None, Spend("m", input_tokens=1))
    last_year = date(2026, 12, 31)
    assert len(await store.usage(["alice"], last_year, last_year)) == 1
    assert await store.usage(["alice"], last_year, date(2027, 1, 1)) == []


async def test_settle_without_lease_or_spend_is_harmless(store: LimitStore) -> None:
    limits = KeyLimits(concurrent_requests=1)
    await store.settle("nobody", limits, None, None)
    await store.settle("nobody", limits, "never-admitted", None)
    assert await store.admit("nobody", limits, lease()) is None


@pytest.mark.parametrize(
    ("instant", "day_end", "month_end"),
    [
        (datetime(2028, 2, 28, 12), datetime(2028, 2, 29), datetime(2028, 3, 1)),  # leap year
        (datetime(2027, 2, 28, 12), datetime(2027, 3, 1), datetime(2027, 3, 1)),
        (datetime(2100, 2, 28, 12), datetime(2100, 3, 1), datetime(2100, 3, 1)),  # not leap
        (datetime(2000, 2, 29, 12), datetime(2000, 3, 1), datetime(2000, 3, 1)),  # leap
        (datetime(2026, 4, 30, 12), datetime(2026, 5, 1), datetime(2026, 5, 1)),
        (datetime(2026, 1, 1, 0, 0, 5), datetime(2026, 1, 2), datetime(2026, 2, 1)),
    ],
)
async def test_budget_periods_follow_the_calendar(
    make_store: StoreFactory, instant: datetime, day_end: datetime, month_end: datetime
) -> None:
    store = await make_store(now_at=instant.replace(tzinfo=UTC).timestamp())
    await store.settle("alice", KeyLimits(), None, Spend("m", input_tokens=1))
    for limits, ends in (
        (KeyLimits(daily_tokens=1), day_end),
        (KeyLimits(monthly_tokens=1), month_end),
    ):
        refusal = await store.admit("alice", limits, lease())
        assert refusal is not None
        assert refusal.resets_at == pytest.approx(ends.replace(tzinfo=UTC).timestamp(), abs=1e-3)
