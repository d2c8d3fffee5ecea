"""The response store strategies (ai_proxy.response_store), on a fake Redis: what is kept,
under which key and for how long, who may read it back, and what each failure answers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

import orjson
import pytest
from ai_proxy.config import Config
from ai_proxy.errors import InvalidRequest, Overloaded
from ai_proxy.ingress.openai_responses import OpenAIResponsesIngress
from ai_proxy.ingress.openai_responses.errors import PreviousResponseNotFound
from ai_proxy.ingress.openai_responses.history import History
from ai_proxy.quota.policy import Quota
from ai_proxy.response_store import NoResponseStore, RedisResponseStore, ResponseStores

HISTORY = History(
    system=[{"type": "text", "text": "Be brief."}],
    messages=[
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]},
    ],
)


class FakeRedis:
    """GET and SET EX on a dict; `down` makes every command fail as a lost connection does."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self.ttls: dict[str, int | None] = {}
        self.down = False

    async def _get(self, name: str) -> bytes | None:
        if self.down:
            raise ConnectionError("redis at 10.0.0.3:6379 is gone")
        return self.values.get(name)

    async def _set(self, name: str, value: bytes, ex: int | None) -> bool:
        if self.down:
            raise ConnectionError("redis at 10.0.0.3:6379 is gone")
        self.values[name], self.ttls[name] = value, ex
        return True

    def get(self, name: str) -> Awaitable[bytes | None]:
        return self._get(name)

    def set(self, name: str, value: bytes, ex: int | None = None) -> Awaitable[bool]:
        return self._set(name, value, ex)


@pytest.fixture
def redis() -> FakeRedis:
    return FakeRedis()


@pytest.fixture
def store(redis: FakeRedis) -> RedisResponseStore:
    return RedisResponseStore(redis, key_prefix="ai-proxy", ttl_seconds=604800)


async def test_a_kept_response_is_read_back_by_its_client_key(
    store: RedisResponseStore, redis: FakeRedis
) -> None:
    await store.save("resp_1", "ci", HISTORY)
    assert redis.ttls == {"ai-proxy:responses:resp_1": 604800}
    kept = orjson.loads(redis.values["ai-proxy:responses:resp_1"])
    assert kept["client"] == "ci"
    assert await store.load("resp_1", "ci") == HISTORY


@pytest.mark.parametrize(("response_id", "client"), [("resp_2", "ci"), ("resp_1", "laptop")])
async def test_missing_and_another_key_s_are_one_answer(
    store: RedisResponseStore, response_id: str, client: str
) -> None:
    await store.save("resp_1", "ci", HISTORY)
    with pytest.raises(PreviousResponseNotFound) as raised:
        await store.load(response_id, client)
    assert raised.value.message == (
        f"previous_response_id: previous response '{response_id}' not found or expired"
    )


async def test_an_unreadable_store_is_a_503_naming_only_the_error_kind(
    store: RedisResponseStore, redis: FakeRedis
) -> None:
    redis.down = True
    with pytest.raises(Overloaded) as raised:
        await store.load("resp_1", "ci")
    assert "ConnectionError" in raised.value.message and "10.0.0.3" not in raised.value.message
    assert OpenAIResponsesIngress().error(raised.value)[0] == 503


async def test_a_failed_save_is_a_warning_not_a_failure(
    store: RedisResponseStore, redis: FakeRedis, caplog: pytest.LogCaptureFixture
) -> None:
    redis.down = True
    with caplog.at_level(logging.WARNING, logger="ai_proxy.responses"):
        await store.save("resp_1", "ci", HISTORY)
    assert "resp_1 was not kept in the fleet store (ConnectionError)" in caplog.text
    assert "10.0.0.3" not in caplog.text


async def test_without_the_fleet_store_previous_response_id_is_refused_by_name() -> None:
    none = NoResponseStore()
    await none.save("resp_1", "ci", HISTORY)  # store: true, OpenAI's default: nothing kept
    with pytest.raises(InvalidRequest) as raised:
        await none.load("resp_1", "ci")
    assert raised.value.message.startswith("previous_response_id: ")
    assert "limits.redis_url" in raised.value.message


def test_not_found_carries_openai_s_param_and_code() -> None:
    status, body = OpenAIResponsesIngress().error(PreviousResponseNotFound("resp_9"))
    assert status == 400
    assert orjson.loads(body) == {
        "error": {
            "message": "previous_response_id: previous response 'resp_9' not found or expired",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
    }


async def test_the_memory_limit_store_keeps_no_responses() -> None:
    config = Config()
    quota = Quota(config, lambda store: None)
    try:
        assert isinstance(ResponseStores(quota, config)(), NoResponseStore)
    finally:
        await quota.close()
