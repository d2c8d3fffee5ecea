"""A redis-server for the session and a `store` per test, once per store kind.

`make_store` opens stores whose clock starts at a chosen instant (`now_at`) and then runs in
real time: the memory store through its injected clock, the Redis store through
`clock_offset_seconds` computed from Redis's own TIME. Each Redis store gets a key prefix of
its own, so every test starts from empty state on the shared server.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Protocol

import pytest
import redis.asyncio
from ai_proxy.quota.memory import MemoryStore
from ai_proxy.quota.redis import RedisStore
from ai_proxy.quota.store import LimitStore

from tests.fakes.redis_server import RedisServer

STORE_KINDS = ["memory", "redis"]
# Generous next to 50 ms in production: a loaded CI machine must not turn a test red.
TEST_TIMEOUT_SECONDS = 2.0


class StoreFactory(Protocol):
    async def __call__(
        self,
        *,
        now_at: float | None = None,
        lease_seconds: float = 30.0,
        retention_days: int = 400,
    ) -> LimitStore: ...


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


async def redis_time(url: str) -> float:
    """Redis's clock, in Unix seconds."""
    client = redis.asyncio.from_url(url)
    try:
        seconds, microseconds = await client.time()
    finally:
        await client.aclose()
    return seconds + microseconds / 1e6


def unique_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
async def make_store(
    store_kind: str, request: pytest.FixtureRequest
) -> AsyncIterator[StoreFactory]:
    opened: list[LimitStore] = []

    async def make(
        *, now_at: float | None = None, lease_seconds: float = 30.0, retention_days: int = 400
    ) -> LimitStore:
        store: LimitStore
        if store_kind == "memory":
            offset = 0.0 if now_at is None else now_at - time.time()
            store = MemoryStore(
                lambda: time.time() + offset,
                lease_seconds=lease_seconds,
                retention_days=retention_days,
            )
        else:
            server: RedisServer = request.getfixturevalue("redis_server")
            offset = 0.0 if now_at is None else now_at - await redis_time(server.url)
            store = RedisStore(
                server.url,
                cluster=False,
                key_prefix=unique_prefix(),
                timeout_seconds=TEST_TIMEOUT_SECONDS,
                lease_seconds=lease_seconds,
                retention_days=retention_days,
                clock_offset_seconds=offset,
            )
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


@pytest.fixture
async def store(make_store: StoreFactory) -> LimitStore:
    return await make_store()
