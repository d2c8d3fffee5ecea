"""Script calls made in the same event-loop turn share one pipeline (ai_proxy.quota.redis).

Under load many requests admit or settle at once, and redis-py's client-side cost of one
command (pool checkout, encoding, a write and a wake-up per reply) was most of the gateway's
cost of the Redis store. Sending the calls queued during one loop turn as one pipeline halved
it (bench/limits.py). Each call is still one script, atomic on its own, in one round trip; a
lone call (concurrency 1) goes out by itself, as before.

A pipeline's error reaches every call in it. A reply of NOSCRIPT (Redis restarted and lost
its script cache) loads the script and runs again only the calls that got it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

Call = tuple[AsyncScript, list[str], tuple[str | int, ...], "asyncio.Future[Any]"]


class ScriptPipeliner:
    def __init__(self, client: redis.asyncio.Redis | redis.asyncio.RedisCluster) -> None:
        self._client = client
        self._queued: list[Call] = []
        self._flushing: set[asyncio.Task[None]] = set()

    def run(
        self, script: AsyncScript, keys: list[str], args: tuple[str | int, ...]
    ) -> asyncio.Future[Any]:
        """The script's reply, once the pipeline this call joins has been answered."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queued.append((script, keys, args, future))
        if len(self._queued) == 1:
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        calls, self._queued = self._queued, []
        task = asyncio.get_running_loop().create_task(self._send(calls))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _send(self, calls: list[Call]) -> None:
        try:
            if len(calls) == 1:
                script, keys, args, future = calls[0]
                _resolve(future, await script(keys=keys, args=args))
                return
            replies = await self._pipeline(calls)
            lost = [n for n, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if lost:
                for script in {calls[n][0] for n in lost}:
                    script.sha = await self._client.script_load(script.script)
                again = await self._pipeline([calls[n] for n in lost])
                for n, reply in zip(lost, again, strict=True):
                    replies[n] = reply
        except Exception as error:
            for *_, future in calls:
                _resolve(future, error)
            return
        for (*_, future), reply in zip(calls, replies, strict=True):
            _resolve(future, reply)

    async def _pipeline(self, calls: list[Call]) -> list[Any]:
        pipeline = self._client.pipeline(transaction=False)
        for script, keys, args, _ in calls:
            # Not pipeline.evalsha: redis-py's cluster pipeline refuses it, while the bare
            # command is routed by its key like any other.
            pipeline.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        replies: list[Any] = await pipeline.execute(raise_on_error=False)
        return replies


def _resolve(future: asyncio.Future[Any], outcome: Any) -> None:
    """Settle `future` with a reply, or with the error a reply may be (unless its caller left)."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
