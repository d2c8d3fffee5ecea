"""Where Responses are kept for a later `previous_response_id`: the fleet store, or nowhere.

Two strategies, chosen by the limit store the gateway has (ai_proxy.quota):

    RedisResponseStore  limits.store = "redis": each response's conversation under
                        `<limits.redis_key_prefix>:responses:<response id>`, with the client
                        key's name that made it, for `responses.store_ttl_seconds`. It borrows
                        the limit store's Redis client: one pool per instance, which the limit
                        store owns and closes.
    NoResponseStore     otherwise: nothing is kept, and previous_response_id is refused with a
                        400 naming it and the settings that would keep responses.

One instance's memory would not do: the next request of a conversation may reach another
instance. A response is kept only once its answer is whole, and before the client sees its
end, so a continuation sent at once finds it. Failing to keep one costs that response only its
continuation (a warning says so); failing to read one is a 503, since nothing else could
answer the request.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from .config import Config
from .errors import InvalidRequest, Overloaded
from .ingress.openai_responses.errors import PreviousResponseNotFound
from .ingress.openai_responses.history import History
from .ingress.openai_responses.request import NEEDS_FLEET_STORE

if TYPE_CHECKING:
    from .quota.policy import Quota

log = logging.getLogger("ai_proxy.responses")


class ResponseStore(Protocol):
    async def load(self, response_id: str, client: str) -> History:
        """The conversation kept under `response_id` for `client` (a client key's name);
        InvalidRequest when there is none to give."""

    async def save(self, response_id: str, client: str, history: History) -> None:
        """Keep `history` for a request of `client`'s naming `response_id`; never raises."""


class NoResponseStore:
    async def load(self, response_id: str, client: str) -> History:
        raise InvalidRequest(NEEDS_FLEET_STORE)

    async def save(self, response_id: str, client: str, history: History) -> None:
        """store: true is OpenAI's default, so most clients send it: accepted, nothing kept."""


class RedisCommands(Protocol):
    """The two commands used, as redis-py's asyncio clients (single node or cluster) have them."""

    def get(self, name: str) -> Awaitable[bytes | str | None]: ...

    def set(
        self, name: str, value: bytes, ex: int | None = None
    ) -> Awaitable[bool | str | bytes | None]: ...


class RedisResponseStore:
    def __init__(self, redis: RedisCommands, *, key_prefix: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = f"{key_prefix}:responses:"
        self._ttl_seconds = ttl_seconds

    async def load(self, response_id: str, client: str) -> History:
        try:
            value = await self._redis.get(self._prefix + response_id)
        except Exception as error:
            # The error's kind only: redis-py's messages may name the host.
            raise Overloaded(
                f"the fleet store (redis) holding previous responses is unavailable "
                f"({type(error).__name__}); retry shortly",
                try_next_target=False,
            ) from None
        if value is None:
            raise PreviousResponseNotFound(response_id)
        kept: dict[str, Any] = orjson.loads(value)
        if kept["client"] != client:
            raise PreviousResponseNotFound(response_id)
        return History(kept["system"], kept["messages"])

    async def save(self, response_id: str, client: str, history: History) -> None:
        value = orjson.dumps(
            {"client": client, "system": history.system, "messages": history.messages}
        )
        try:
            await self._redis.set(self._prefix + response_id, value, ex=self._ttl_seconds)
        except Exception as error:
            log.warning(
                "response %s was not kept in the fleet store (%s): a previous_response_id "
                "naming it will not be found",
                response_id,
                type(error).__name__,
            )


NO_RESPONSE_STORE = NoResponseStore()


class ResponseStores:
    """The strategy for the limit store the gateway has, chosen at first use once that store
    exists: with its URL in the secret, it is built after start-up (Gateway.load_secrets)."""

    def __init__(self, quota: Quota, config: Config) -> None:
        self._quota = quota
        self._config = config
        self._chosen: ResponseStore | None = None

    def __call__(self) -> ResponseStore:
        if self._chosen is None:
            limit_store = self._quota.store
            if limit_store is None:
                return NO_RESPONSE_STORE
            self._chosen = NO_RESPONSE_STORE
            if limit_store.name == "redis":
                from .quota.redis import RedisStore  # imported only when it is the store

                assert isinstance(limit_store, RedisStore)
                self._chosen = RedisResponseStore(
                    limit_store.client,  # borrowed: the limit store owns and closes it
                    key_prefix=self._config.limits.redis_key_prefix,
                    ttl_seconds=self._config.responses.store_ttl_seconds,
                )
        return self._chosen
