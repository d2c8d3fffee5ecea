"""RedisStore's own behaviour: key TTLs and slots, timeouts, fail-fast, reconnection after an
outage, credentials and cluster mode, and that no URL or password leaks into an error or log.

Tests that break their server start one of their own (the session's server stays healthy).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from ai_proxy.quota import redis as redis_store
from ai_proxy.quota.pipelining import Call, ScriptPipeliner
from ai_proxy.quota.redis import RedisStore
from ai_proxy.quota.store import KeyLimits, Spend, StoreUnavailable
from redis.crc import key_slot

from tests.fakes.redis_server import RedisServer

from .conftest import TEST_TIMEOUT_SECONDS, unique_prefix

DEADLINE_SECONDS = 15.0
PASSWORD = "correct-horse-battery"
EVERYTHING = KeyLimits(
    requests_per_minute=60,
    tokens_per_minute=6000,
    concurrent_requests=4,
    daily_tokens=10**6,
    monthly_tokens=10**7,
    daily_nanousd=10**12,
    monthly_nanousd=10**13,
)
SPEND = Spend("sonnet", input_tokens=10, output_tokens=20, nanousd=30)
SOME_DAY = datetime(2026, 12, 1, tzinfo=UTC).date()


def open_store(
    url: str, *, cluster: bool = False, timeout: float = TEST_TIMEOUT_SECONDS, prefix: str = ""
) -> RedisStore:
    return RedisStore(
        url,
        cluster=cluster,
        key_prefix=prefix or unique_prefix(),
        timeout_seconds=timeout,
        lease_seconds=30.0,
        retention_days=400,
    )


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as server:
        yield server


async def admit_and_settle(store: RedisStore, client: str = "alice") -> None:
    lease = uuid.uuid4().hex
    assert await store.admit(client, EVERYTHING, lease) is None
    await store.settle(client, EVERYTHING, lease, SPEND)


async def until_served(store: RedisStore) -> None:
    """Poll until the store answers again; fail after DEADLINE_SECONDS."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            await admit_and_settle(store)
            return
        except StoreUnavailable:
            assert time.monotonic() < deadline, "the store did not recover"
            await asyncio.sleep(0.05)


async def test_every_key_has_a_ttl_and_the_clients_slot(redis_server: RedisServer) -> None:
    prefix = unique_prefix()
    store = open_store(redis_server.url, prefix=prefix)
    client = redis.asyncio.from_url(redis_server.url)
    try:
        await store.admit("alice", EVERYTHING, "held")  # the lease stays: its zset too
        await admit_and_settle(store)
        keys = [key.decode() async for key in client.scan_iter(match=f"{prefix}:*")]
        today = datetime.now(UTC)
        base = f"{prefix}:{{alice}}:"
        assert {key.removeprefix(base).rsplit(":", 1)[0] for key in keys} == {
            "rpm",
            "tpm",
            "leases",
            "day",
            "month",
            "usage",
        }
        assert f"{base}usage:{today:%Y%m%d}" in keys
        for key in keys:
            assert await client.pttl(key) > 0, key
        ledger_ttl = await client.pttl(f"{base}usage:{today:%Y%m%d}")
        assert ledger_ttl > 399 * 86400 * 1000
        assert await client.pttl(f"{base}day:{today:%Y%m%d}") <= 2 * 86400 * 1000
        assert len({key_slot(key.encode()) for key in keys}) == 1
    finally:
        await client.aclose()
        await store.close()


async def test_a_hung_redis_times_out(own_server: RedisServer) -> None:
    store = open_store(own_server.url, timeout=0.2)
    try:
        await admit_and_settle(store)
        own_server.pause()
        with pytest.raises(StoreUnavailable, match="TimeoutError"):
            await store.admit("alice", EVERYTHING, "x")
    finally:
        own_server.resume()
        await store.close()


async def test_after_a_failure_calls_fail_fast(
    own_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_store, "FAIL_FAST_SECONDS", 3600.0)
    store = open_store(own_server.url, timeout=0.2)
    try:
        own_server.pause()
        with pytest.raises(StoreUnavailable, match="TimeoutError"):
            await store.admit("alice", EVERYTHING, "x")
        own_server.resume()
        for _ in range(3):  # Redis is back, but the window is not over: no network touched
            with pytest.raises(StoreUnavailable, match="failing fast"):
                await admit_and_settle(store)
        with pytest.raises(StoreUnavailable, match="failing fast"):
            await store.usage(["alice"], SOME_DAY, SOME_DAY)
    finally:
        own_server.resume()
        await store.close()


async def test_after_the_window_one_call_probes(
    own_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_store, "FAIL_FAST_SECONDS", 0.0)  # each failure's window: over
    store = open_store(own_server.url, timeout=0.2)
    try:
        own_server.pause()
        with pytest.raises(StoreUnavailable, match="TimeoutError"):
            await store.admit("alice", EVERYTHING, "x")
        results = await asyncio.gather(
            *(store.admit("alice", EVERYTHING, str(n)) for n in range(5)), return_exceptions=True
        )
        assert all(isinstance(result, StoreUnavailable) for result in results)
        fast = "redis: failing fast after a recent error"
        assert sorted(map(str, results)) == ["redis: TimeoutError"] + [fast] * 4
        own_server.resume()
        await until_served(store)
    finally:
        own_server.resume()
        await store.close()


async def test_reconnects_after_redis_is_killed_and_restarted(own_server: RedisServer) -> None:
    """The restarted Redis has lost its scripts too: NOSCRIPT is answered by loading them."""
    store = open_store(own_server.url, timeout=0.5)
    try:
        await admit_and_settle(store)
        own_server.kill()
        with pytest.raises(StoreUnavailable):
            await admit_and_settle(store)
        own_server.start()
        await until_served(store)
    finally:
        await store.close()


async def test_flushed_scripts_are_loaded_again(redis_server: RedisServer) -> None:
    store = open_store(redis_server.url)
    client = redis.asyncio.from_url(redis_server.url)
    try:
        await admit_and_settle(store)
        await client.script_flush()
        await admit_and_settle(store)
    finally:
        await client.aclose()
        await store.close()


async def test_concurrent_calls_share_a_pipeline(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calls made in one loop turn go out together, and each still gets its own reply."""
    sizes: list[int] = []
    send = ScriptPipeliner._pipeline

    async def counted(self: ScriptPipeliner, calls: list[Call]) -> list[Any]:
        sizes.append(len(calls))
        return await send(self, calls)

    monkeypatch.setattr(ScriptPipeliner, "_pipeline", counted)
    store = open_store(redis_server.url)
    try:
        limits = KeyLimits(requests_per_minute=1, burst=5)
        results = await asyncio.gather(*(store.admit("alice", limits, str(n)) for n in range(20)))
        assert sizes == [20]
        assert sum(result is None for result in results) == 5
        assert {result.limit for result in results if result is not None} == {"requests_per_minute"}
    finally:
        await store.close()


async def test_flushed_scripts_are_loaded_again_within_a_pipeline(
    redis_server: RedisServer,
) -> None:
    store = open_store(redis_server.url)
    client = redis.asyncio.from_url(redis_server.url)
    try:
        await admit_and_settle(store)
        await client.script_flush()
        await asyncio.gather(*(admit_and_settle(store, f"client-{n}") for n in range(10)))
        today = datetime.now(UTC).date()
        rows = await store.usage([f"client-{n}" for n in range(10)], today, today)
        assert [row.requests for row in rows] == [1] * 10
    finally:
        await client.aclose()
        await store.close()


async def test_a_failed_pipeline_fails_each_of_its_calls(own_server: RedisServer) -> None:
    store = open_store(own_server.url, timeout=0.2)
    try:
        await admit_and_settle(store)
        own_server.pause()
        results = await asyncio.gather(
            *(store.admit("alice", EVERYTHING, str(n)) for n in range(5)), return_exceptions=True
        )
        assert [str(result) for result in results] == ["redis: TimeoutError"] * 5
    finally:
        own_server.resume()
        await store.close()


@pytest.mark.parametrize(
    ("password", "user"), [(PASSWORD, None), (None, ("gateway", PASSWORD))], ids=["password", "acl"]
)
async def test_credentials_in_the_url(
    tmp_path: Path, password: str | None, user: tuple[str, str] | None
) -> None:
    with RedisServer(tmp_path, password=password, user=user) as server:
        store = open_store(server.url)
        wrong = open_store(server.url.replace(PASSWORD, "wrong-password"))
        try:
            await admit_and_settle(store)
            with pytest.raises(StoreUnavailable) as raised:
                await admit_and_settle(wrong)
            assert "wrong-password" not in str(raised.value)
        finally:
            await store.close()
            await wrong.close()


async def test_tls(tmp_path: Path) -> None:
    with RedisServer(tmp_path, tls=True, password=PASSWORD) as server:
        assert server.url.startswith("rediss://")
        store = open_store(server.url)
        plain = open_store(server.url.replace("rediss://", "redis://"))
        try:
            await admit_and_settle(store)
            with pytest.raises(StoreUnavailable):
                await admit_and_settle(plain)
        finally:
            await store.close()
            await plain.close()


async def test_cluster_mode(tmp_path: Path) -> None:
    """Keys of many slots in one pipeline, and NOSCRIPT after a flush, on a real cluster."""
    with RedisServer(tmp_path, cluster=True) as server:
        store = open_store(server.url, cluster=True)
        clients = [f"team-{n}" for n in range(10)]
        admin = redis.asyncio.from_url(server.url)
        try:
            assert len({key_slot(f"{{{client}}}".encode()) for client in clients}) > 1
            await asyncio.gather(*(admit_and_settle(store, client) for client in clients))
            await admin.script_flush()
            await asyncio.gather(*(admit_and_settle(store, client) for client in clients))
            today = datetime.now(UTC).date()
            rows = await store.usage(clients, today, today)
            assert [(row.client, row.requests, row.nanousd) for row in rows] == [
                (client, 2, 60) for client in clients
            ]
        finally:
            await admin.aclose()
            await store.close()


async def test_no_url_or_password_in_errors_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(redis_store, "FAIL_FAST_SECONDS", 0.0)  # each call reaches out
    with RedisServer(tmp_path, password=PASSWORD) as server:
        store = open_store(server.url, timeout=0.2)
        raised: list[StoreUnavailable] = []
        try:
            await admit_and_settle(store)
            server.kill()
            calls = (
                lambda: admit_and_settle(store),
                lambda: store.usage(["a"], SOME_DAY, SOME_DAY),
            )
            for call in calls:
                with pytest.raises(StoreUnavailable) as error:
                    await call()
                raised.append(error.value)
        finally:
            await store.close()
    texts = [str(error) + repr(error) for error in raised]
    texts += [record.getMessage() for record in caplog.records]
    assert not any("failing fast" in str(error) for error in raised)  # each asked Redis
    for text in texts:
        assert PASSWORD not in text
        assert server.url not in text
        assert f"127.0.0.1:{server.port}" not in text
