"""Quota: each key's limits from the config, the 429 a refusal becomes, settling once, and the
store-error policy (a store that raises StoreUnavailable on every call)."""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any, Literal

import pytest
from ai_proxy.auth import ClientKey
from ai_proxy.config import Config, ConfigError
from ai_proxy.errors import Overloaded, RateLimited
from ai_proxy.observability import RequestRecord
from ai_proxy.quota.memory import MemoryStore
from ai_proxy.quota.policy import Quota, refused, url_secrets
from ai_proxy.quota.store import (
    NANO,
    KeyLimits,
    Refusal,
    Spend,
    StoreUnavailable,
    UsageRow,
)

CI = ClientKey("ci", "0" * 64)
# 2026-12-02T10:00:00Z
NOW = 1796205600.0


def config(limits: dict[str, Any] | None = None, **key: Any) -> Config:
    return Config.model_validate(
        {
            "auth": {"client_keys": [{"name": "ci", "sha256": "0" * 64, **key}]},
            "limits": limits or {},
        }
    )


def record(**fields: Any) -> RequestRecord:
    built = RequestRecord("req_1", "POST", "/v1/messages", 0.0, client_name="ci")
    for name, value in fields.items():
        setattr(built, name, value)
    return built


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def quota_on_memory(settings: Config) -> tuple[Quota, list[str]]:
    failures: list[str] = []
    quota = Quota(settings, failures.append)
    quota.store = MemoryStore(Clock(), lease_seconds=960, retention_days=400)
    return quota, failures


class DownStore:
    """Every call fails the way an unreachable Redis does."""

    name: Literal["memory", "redis"] = "redis"

    def __init__(self) -> None:
        self.calls = 0

    async def admit(self, client: str, limits: KeyLimits, lease: str) -> Refusal | None:
        self.calls += 1
        raise StoreUnavailable("redis: ConnectionError")

    async def settle(
        self, client: str, limits: KeyLimits, lease: str | None, spend: Spend | None
    ) -> None:
        self.calls += 1
        raise StoreUnavailable("redis: ConnectionError")

    async def usage(self, clients: list[str], first: date, last: date) -> list[UsageRow]:
        raise StoreUnavailable("redis: ConnectionError")

    async def close(self) -> None:
        pass


def test_a_key_override_wins_and_usd_becomes_nano_usd() -> None:
    quota = Quota(
        config({"requests_per_minute": 60, "daily_usd": 5.0, "burst": 10}, daily_usd=1.25),
        lambda store: None,
    )
    assert quota.limits_of("ci") == KeyLimits(
        requests_per_minute=60, burst=10, daily_nanousd=1_250_000_000
    )
    # A name the config does not list (a key added by a secret, "anonymous"): the defaults.
    assert quota.limits_of("someone") == KeyLimits(
        requests_per_minute=60, burst=10, daily_nanousd=5 * NANO
    )


def test_zero_as_an_override_means_unlimited_for_that_key() -> None:
    quota = Quota(config({"requests_per_minute": 60}, requests_per_minute=0), lambda store: None)
    assert not quota.limits_of("ci").any


def test_redis_without_a_url_anywhere_stops_start_up_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"limits\.redis_url"):
        Quota(config({"store": "redis"}), lambda store: None)


def test_redis_with_the_url_to_come_from_the_secret_waits_for_it() -> None:
    settings = Config.model_validate(
        {
            "auth": {"client_keys": [{"name": "ci", "sha256": "0" * 64}]},
            "limits": {"store": "redis"},
            "secrets": {"source": "aws", "aws_secret_id": "ai-proxy/keys"},
        }
    )
    quota = Quota(settings, lambda store: None)
    assert quota.store is None
    with pytest.raises(ConfigError, match=r"limits\.redis_url"):
        quota.start(None)  # the secret had no redis_url either
    quota.start("redis://:pw-0123456789@127.0.0.1:1/0")
    assert quota.store is not None and quota.store.name == "redis"
    asyncio.run(quota.close())


def test_a_redis_url_and_its_password_are_secrets() -> None:
    url = "rediss://user:s3cret-password@cache.example:6380/0"
    assert url_secrets(url) == [url, "s3cret-password"]
    assert url_secrets("redis://cache:6379") == ["redis://cache:6379"]
    assert url_secrets(None) == []


@pytest.mark.parametrize(
    ("limit", "value", "words"),
    [
        ("requests_per_minute", 60, "its limit of 60 requests per minute"),
        ("tokens_per_minute", 10_000, "its limit of 10,000 tokens per minute"),
        ("concurrent_requests", 4, "its limit of 4 requests at once"),
    ],
)
def test_a_rate_refusal_names_the_limit_and_its_value(limit: str, value: int, words: str) -> None:
    limits = KeyLimits(**{limit: value})
    error = refused("ci", limits, Refusal(limit, 1.2))  # type: ignore[arg-type]
    assert isinstance(error, RateLimited) and error.status == 429
    assert error.message == f"client key 'ci' is over {words} (limits.{limit})"
    assert error.headers() == [(b"retry-after", b"2")]  # ceil
    assert not error.try_next_target and not error.retry_same_target


def test_a_budget_refusal_names_the_budget_and_its_reset() -> None:
    limits = KeyLimits(daily_nanousd=5 * NANO, monthly_tokens=2_000_000)
    resets = NOW + 14 * 3600  # 2026-12-03T00:00:00Z
    daily = refused("ci", limits, Refusal("daily_usd", 14 * 3600, resets))
    assert daily.message == (
        "client key 'ci' has used its daily budget of $5.00 (limits.daily_usd); "
        "it resets at 2026-12-03T00:00:00Z"
    )
    assert daily.headers() == [(b"retry-after", str(14 * 3600).encode())]
    monthly = refused("ci", limits, Refusal("monthly_tokens", 0.2, resets))
    assert "its monthly budget of 2,000,000 tokens (limits.monthly_tokens)" in monthly.message
    assert monthly.headers() == [(b"retry-after", b"1")]  # never 0


async def test_a_key_without_limits_is_never_asked_about() -> None:
    quota = Quota(config(), lambda store: None)
    down = DownStore()
    quota.store = down
    await quota.admit(CI, record())
    assert down.calls == 0


async def test_admit_then_settle_spends_the_reported_usage_at_the_served_models_price() -> None:
    quota, _ = quota_on_memory(config({"concurrent_requests": 1}))
    first = record(upstream_model="claude-sonnet-4-5-20250929", provider="anthropic")
    await quota.admit(CI, first)
    assert first.lease is not None
    with pytest.raises(RateLimited, match="requests at once"):
        await quota.admit(CI, record())
    first.usage = {
        "input_tokens": 1000,
        "output_tokens": 100,
        "cache_read_input_tokens": 2000,
        "cache_creation_input_tokens": 400,
    }
    await quota.settle(first)
    await quota.settle(first)  # once only
    assert first.settled
    await quota.admit(CI, record())  # the lease was released
    assert quota.store is not None
    [row] = await quota.store.usage(["ci"], date(2026, 12, 2), date(2026, 12, 2))
    assert row.model == "claude-sonnet-4-5-20250929" and row.requests == 1
    assert (row.input_tokens, row.output_tokens) == (1000, 100)
    assert (row.cache_read_tokens, row.cache_write_tokens) == (2000, 400)
    # $3 in, $15 out, $0.30 cache read, $3.75 cache write, per million.
    assert row.nanousd == 1000 * 3000 + 100 * 15000 + 2000 * 300 + 400 * 3750


async def test_a_refusal_is_recorded_for_the_metrics_and_takes_no_lease() -> None:
    quota, _ = quota_on_memory(config({"requests_per_minute": 1}))
    await quota.admit(CI, record())
    refused_record = record()
    with pytest.raises(RateLimited, match="requests per minute"):
        await quota.admit(CI, refused_record)
    assert refused_record.limit_refused == "requests_per_minute"
    assert refused_record.lease is None


async def test_an_unknown_model_costs_nothing_but_its_tokens_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quota, _ = quota_on_memory(config())
    caplog.set_level(logging.DEBUG, "ai_proxy.quota")
    for _ in range(2):
        await quota.settle(record(upstream_model="house-llm", usage={"input_tokens": 7}))
    assert quota.store is not None
    [row] = await quota.store.usage(["ci"], date(2026, 12, 2), date(2026, 12, 2))
    assert (row.requests, row.input_tokens, row.nanousd) == (2, 14, 0)
    noted = [r for r in caplog.records if "house-llm" in r.getMessage()]
    assert len(noted) == 1


async def test_a_request_no_provider_answered_spends_nothing() -> None:
    quota, _ = quota_on_memory(config({"concurrent_requests": 1}))
    failed = record()
    await quota.admit(CI, failed)
    failed.provider, failed.upstream_model, failed.status = "gemini", "gemini-2.5-flash", 502
    await quota.settle(failed)  # no usage reported: lease back, nothing spent
    await quota.admit(CI, record())
    assert quota.store is not None
    assert await quota.store.usage(["ci"], date(2026, 12, 2), date(2026, 12, 2)) == []


async def test_allow_serves_counts_every_failure_and_warns_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures: list[str] = []
    quota = Quota(
        config({"requests_per_minute": 5, "store_error_log_interval_seconds": 3600}),
        failures.append,
    )
    quota.store = DownStore()
    caplog.set_level(logging.WARNING, "ai_proxy.quota")
    for _ in range(3):
        served = record(upstream_model="gemini-2.5-flash", usage={"input_tokens": 3})
        await quota.admit(CI, served)  # no exception: served
        await quota.settle(served)  # never raises
    assert failures == ["redis"] * 6  # each admit and each settle
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "serving without limits" in warnings[0].getMessage()


async def test_deny_answers_529_naming_the_limit_store() -> None:
    quota = Quota(config({"requests_per_minute": 5, "on_store_error": "deny"}), lambda s: None)
    quota.store = DownStore()
    with pytest.raises(Overloaded) as caught:
        await quota.admit(CI, record())
    assert caught.value.status == 529 and caught.value.error_type == "overloaded_error"
    assert "limit store" in caught.value.message
    assert not caught.value.try_next_target and not caught.value.retry_same_target


async def test_usage_from_a_store_that_is_down_is_a_529() -> None:
    quota = Quota(config(), lambda s: None)
    quota.store = DownStore()
    with pytest.raises(Overloaded, match="usage ledger"):
        await quota.usage(["ci"], date(2026, 12, 2), date(2026, 12, 2))


class SlowSettleStore(MemoryStore):
    """settle waits for a gate, so a cancellation can land in the middle of it."""

    def __init__(self) -> None:
        super().__init__(Clock(), lease_seconds=960, retention_days=400)
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def settle(
        self, client: str, limits: KeyLimits, lease: str | None, spend: Spend | None
    ) -> None:
        self.entered.set()
        await self.gate.wait()
        await super().settle(client, limits, lease, spend)


async def test_a_settle_run_during_cancellation_survives_a_second_cancellation() -> None:
    quota = Quota(config({"concurrent_requests": 1}), lambda s: None)
    store = quota.store = SlowSettleStore()
    served = record(upstream_model="gemini-2.5-flash", usage={"output_tokens": 9})
    await quota.admit(CI, served)

    async def stream_cleanup() -> None:
        try:
            await asyncio.Event().wait()  # the relay, until the client goes away
        finally:
            await quota.settle(served)

    task = asyncio.ensure_future(stream_cleanup())
    await asyncio.sleep(0)
    task.cancel()  # the hang-up
    await store.entered.wait()
    task.cancel()  # and a second one (a shutdown) while the settle is under way
    with pytest.raises(asyncio.CancelledError):
        await task
    store.gate.set()
    await quota.drain()  # waits for the settle that went on by itself
    await quota.admit(CI, record())  # its lease was released
    [row] = await MemoryStore.usage(store, ["ci"], date(2026, 12, 2), date(2026, 12, 2))
    assert row.output_tokens == 9
