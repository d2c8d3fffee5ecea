"""Three real `ai-proxy` processes sharing one real redis-server (issue 12, item 7): a key's
rate and its token budget are admitted once across the fleet, although two of the three
clocks are hours off (the stores reckon in Redis's time); Redis killed in the middle of a
load and started again, under each `limits.on_store_error`, leaves every answer well-formed.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from ai_proxy.auth import hash_key
from ai_proxy.quota.redis import FAIL_FAST_SECONDS
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.gemini import FakeGemini
from tests.fakes.gemini_replies import Usage, text_answer
from tests.fakes.redis_server import RedisServer

from .conftest import messages_body
from .fleet import Fleet, GatewayProcess

pytestmark = pytest.mark.slow

Policy = Literal["allow", "deny"]

MODEL = "fast"
UPSTREAM_MODEL = "gemini-2.5-flash"
INPUT_TOKENS, OUTPUT_TOKENS = 10, 20  # what every answer of the fake reports
SKEWS_HOURS = (0, 3, -2)  # gateway-1 runs three hours ahead, gateway-2 two hours behind
# Requests per minute: the bucket regains one request every 6 s, far longer than the burst.
RATE = 10
DAILY_TOKENS = 100  # the fourth answer crosses it
TOKENS_PER_ANSWER = INPUT_TOKENS + OUTPUT_TOKENS
WITHIN_BUDGET = math.ceil(DAILY_TOKENS / TOKENS_PER_ANSWER)  # answers served, ±1
CLIENT_TIMEOUT = 10.0  # no answer may take longer: a hang fails the test
DEADLINE = 30.0  # for conditions polled while the fleet works
LOAD_CLIENTS = 4
OUTAGE_SECONDS = 1.5 * FAIL_FAST_SECONDS  # Redis stays dead at least this long
ADMIN_KEY = "sk-fleet-admin-0123456789abcdef"
REDIS_PASSWORD = "fleet-redis-password-5d41402a"  # in the URL; never in a log line
# Each test its own key, so that no test sees another's counters.
KEY_LIMITS: dict[str, dict[str, int]] = {
    "rate": {"requests_per_minute": RATE},
    "budget": {"daily_tokens": DAILY_TOKENS},
    # A limit never reached: admission consults the store for every request.
    "load": {"requests_per_minute": 1_000_000},
}


def client_key(name: str) -> str:
    return f"sk-fleet-{name}-0123456789abcdef"


def fleet_environment(
    upstream: FakeGemini, redis: RedisServer, policy: Policy, *, cluster: bool = False
) -> dict[str, str]:
    """Every gateway's settings, one JSON value per config section (AI_PROXY_<SECTION>)."""
    sections: dict[str, Any] = {
        "server": {"drain_seconds": 0, "shutdown_timeout_seconds": 2},
        "providers": {"gemini": {"base_url": upstream.base_url, "api_key": upstream.api_key}},
        "routing": {"aliases": {MODEL: f"gemini/{UPSTREAM_MODEL}"}},
        "retries": {"max_retries": 0},
        "auth": {
            "client_keys": [
                {"name": name, "sha256": hash_key(client_key(name)), **limits}
                for name, limits in KEY_LIMITS.items()
            ],
            "admin_keys": [{"name": "admin", "sha256": hash_key(ADMIN_KEY)}],
        },
        "limits": {
            "store": "redis",
            "redis_url": redis.url,
            "redis_cluster": cluster,
            "on_store_error": policy,
            # Generous: two busy cores must not turn a slow answer into a store error; a
            # killed Redis refuses connections at once anyway.
            "store_timeout_ms": 1000,
            "store_error_log_interval_seconds": 1,
        },
    }
    return {f"AI_PROXY_{name.upper()}": json.dumps(values) for name, values in sections.items()}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeGemini]:
    usage = Usage(prompt=INPUT_TOKENS, candidates=OUTPUT_TOKENS)
    with FakeGemini(default_reply=text_answer("Counted.", usage=usage)) as fake:
        yield fake


@pytest.fixture(scope="module", params=[False, True], ids=["redis", "redis-cluster"])
def steady(
    request: pytest.FixtureRequest, upstream: FakeGemini, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    """Redis up throughout, alone or as a cluster (as ElastiCache Serverless presents itself);
    "deny", so that a store error would show as a 529."""
    cluster: bool = request.param
    directory = tmp_path_factory.mktemp("steady")
    with RedisServer(directory, cluster=cluster) as redis:
        environment = fleet_environment(upstream, redis, "deny", cluster=cluster)
        with Fleet(environment, skews_hours=SKEWS_HOURS, logs=directory) as fleet:
            yield fleet


def answer_kind(response: httpx.Response) -> str:
    """The answer's kind: "message", or the type of a well-formed Anthropic error (anything
    else fails)."""
    body = response.json()
    if response.status_code == 200:
        assert body["type"] == "message" and body["content"], body
        return "message"
    expected = {429: "rate_limit_error", 529: "overloaded_error"}
    assert response.status_code in expected, (response.status_code, body)
    assert body["type"] == "error" and isinstance(body["error"]["message"], str), body
    assert body["error"]["type"] == expected[response.status_code], body
    return str(body["error"]["type"])


async def send(client: httpx.AsyncClient, url: str, key: str) -> httpx.Response:
    return await client.post(
        url + "/v1/messages", json=messages_body(MODEL), headers={"x-api-key": key}
    )


async def until(condition: Callable[[], bool | Awaitable[bool]], what: str, fleet: Fleet) -> None:
    deadline = time.monotonic() + DEADLINE
    while True:
        met = condition()
        if met if isinstance(met, bool) else await met:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE} s: {what}\n{fleet.output()}")
        await asyncio.sleep(0.02)


async def ledger(client: httpx.AsyncClient, url: str, name: str) -> httpx.Response:
    """GET /v1/usage for client `name`, yesterday to tomorrow (no clock here decides a day)."""
    today = datetime.now(UTC).date()
    params = {
        "client": name,
        "from": (today - timedelta(days=1)).isoformat(),
        "to": (today + timedelta(days=1)).isoformat(),
    }
    return await client.get(url + "/v1/usage", params=params, headers={"x-api-key": ADMIN_KEY})


def ledger_totals(body: Any) -> dict[str, int]:
    """Requests and tokens of a /v1/usage answer, summed over its rows."""
    totals = dict.fromkeys(("requests", "input_tokens", "output_tokens"), 0)
    for row in body["data"]:
        for field in totals:
            totals[field] += row[field]
    return totals


def test_two_of_the_three_clocks_are_hours_off(steady: Fleet) -> None:
    """The skew is real: uvicorn's Date header is the process's own wall clock."""
    for gateway in steady.gateways:
        response = httpx.get(gateway.url + "/health/live", timeout=CLIENT_TIMEOUT)
        shown = parsedate_to_datetime(response.headers["date"]).timestamp()
        offset_hours = (shown - time.time()) / 3600
        assert abs(offset_hours - gateway.skew_hours) < 0.1, (gateway.name, offset_hours)


async def test_the_fleet_admits_a_keys_rate_once(steady: Fleet, upstream: FakeGemini) -> None:
    """3R requests at once, round robin over the three: R served, the rest refused.

    The bucket (R, refilling R a minute) regains `elapsed * R / 60` requests while the burst
    runs, well under one for any burst shorter than 6 s; the one extra is the ±1 the issue
    allows."""
    before = len(upstream.requests)
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
        started = time.monotonic()
        responses = await asyncio.gather(
            *(send(client, steady.url(index), client_key("rate")) for index in range(3 * RATE))
        )
        elapsed = time.monotonic() - started

    kinds = Counter(answer_kind(response) for response in responses)
    regained = math.floor(elapsed * RATE / 60)
    assert set(kinds) <= {"message", "rate_limit_error"}, (kinds, steady.output())
    assert RATE <= kinds["message"] <= RATE + 1 + regained, (kinds, elapsed, steady.output())
    assert len(upstream.requests) - before == kinds["message"]  # refusals never went upstream
    for response in responses:
        if response.status_code == 429:
            assert 0 < float(response.headers["retry-after"]) <= 60 / RATE + 1


async def test_the_fleet_spends_a_token_budget_once(steady: Fleet) -> None:
    """Sequential requests, round robin, until refused: ceil(T / 30) served (±1), then every
    gateway refuses naming the daily budget; the ledger agrees from all three."""
    served = 0
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
        refusal = None
        for index in range(WITHIN_BUDGET + 3):  # a budget never applied ends here
            response = await send(client, steady.url(index), client_key("budget"))
            if answer_kind(response) != "message":
                refusal = response
                break
            served += 1
        assert refusal is not None, steady.output()
        later = [
            await send(client, gateway.url, client_key("budget")) for gateway in steady.gateways
        ]
        answers = [await ledger(client, gateway.url, "budget") for gateway in steady.gateways]

    assert abs(served - WITHIN_BUDGET) <= 1, (served, refusal.text, steady.output())
    for response in [refusal, *later]:
        assert answer_kind(response) == "rate_limit_error"
        assert "daily budget" in response.json()["error"]["message"], response.text
        assert float(response.headers["retry-after"]) > 0

    assert [answer.status_code for answer in answers] == [200, 200, 200], answers[0].text
    ledgers = [answer.json() for answer in answers]
    assert ledgers[0] == ledgers[1] == ledgers[2]
    assert ledger_totals(ledgers[0]) == {
        "requests": served,
        "input_tokens": served * INPUT_TOKENS,
        "output_tokens": served * OUTPUT_TOKENS,
    }


@dataclass
class Outcome:
    started: float  # time.monotonic() of the test process
    ended: float
    gateway: int
    kind: str  # "message", an error type, or the exception a request ended in


class Load:
    """`LOAD_CLIENTS` loops sending one request after another, round robin over the fleet,
    each answer checked well-formed as it arrives."""

    def __init__(self, fleet: Fleet, client: httpx.AsyncClient) -> None:
        self.fleet = fleet
        self.client = client
        self.outcomes: list[Outcome] = []
        self._stopping = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Load:
        self._loops = [asyncio.create_task(self._loop(first)) for first in range(LOAD_CLIENTS)]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Each loop ends after its request in flight: every request sent is answered."""
        self._stopping.set()
        await asyncio.gather(*self._loops)

    async def _loop(self, first: int) -> None:
        index = first
        while not self._stopping.is_set():
            gateway = index % len(self.fleet.gateways)
            started = time.monotonic()
            try:
                response = await send(self.client, self.fleet.url(gateway), client_key("load"))
                kind = answer_kind(response)
            except (httpx.HTTPError, AssertionError, ValueError, KeyError, TypeError) as error:
                kind = f"{type(error).__name__}: {error}"
            self.outcomes.append(Outcome(started, time.monotonic(), gateway, kind))
            index += 1

    def within(self, first: float, last: float) -> list[Outcome]:
        """The outcomes of requests sent and answered between those two instants."""
        return [o for o in self.outcomes if o.started >= first and o.ended <= last]

    def answered_by_every_gateway(self, since: float, count: int) -> bool:
        recent = self.within(since, time.monotonic())
        return all(
            sum(outcome.gateway == index for outcome in recent) >= count
            for index in range(len(self.fleet.gateways))
        )


@dataclass
class Outage:
    """The instants around Redis's death (test-process monotonic time), and what the
    readiness probes said while it was dead."""

    killing: float  # before the kill: Redis certainly up until here
    down_from: float  # the kill done: Redis certainly dead from here ...
    down_until: float  # ... to here, just before the restart
    readiness: list[int]


async def kill_and_restart(load: Load, redis: RedisServer) -> Outage:
    """Under `load`: kill Redis once the load runs, start it again once every gateway has
    answered twice without it, then wait until a request counts in the fresh Redis."""
    fleet, client = load.fleet, load.client
    await until(lambda: len(load.outcomes) >= 2 * LOAD_CLIENTS, "a load", fleet)
    killing = time.monotonic()
    await asyncio.to_thread(redis.kill)
    down_from = time.monotonic()
    await until(
        lambda: load.answered_by_every_gateway(down_from, 2),
        "two answers from every gateway while Redis is down",
        fleet,
    )
    # Not a synchronisation: the outage outlasts the store's fail-fast period, so that the
    # gateways also probe the dead Redis, not only skip it.
    await asyncio.sleep(OUTAGE_SECONDS)
    readiness = [
        (await client.get(gateway.url + "/health/ready")).status_code for gateway in fleet.gateways
    ]
    down_until = time.monotonic()
    await asyncio.to_thread(redis.start)

    async def counted_again() -> bool:
        # Nothing survives the kill (no persistence): any request in the ledger came after it.
        count = await ledger_requests(client, fleet.url(0))
        return count is not None and count > 0

    await until(counted_again, "a request counted in the restarted Redis", fleet)
    return Outage(killing, down_from, down_until, readiness)


async def ledger_requests(client: httpx.AsyncClient, url: str) -> int | None:
    """The load key's requests in the ledger, as the gateway at `url` reads it from its store
    (None: that store does not answer)."""
    answer = await ledger(client, url, "load")
    return ledger_totals(answer.json())["requests"] if answer.status_code == 200 else None


async def counted_by_each_gateway(fleet: Fleet, client: httpx.AsyncClient) -> None:
    """With the load stopped, one gateway at a time: requests to it until the ledger it reads
    grows, so every gateway's own connection to the restarted Redis works again."""
    for gateway in fleet.gateways:
        await counts_again(fleet, client, gateway)


async def counts_again(fleet: Fleet, client: httpx.AsyncClient, gateway: GatewayProcess) -> None:
    first: int | None = None

    async def counted() -> bool:
        nonlocal first
        count = await ledger_requests(client, gateway.url)
        if count is None:
            return False
        if first is None:
            first = count
        if count > first:
            return True
        await send(client, gateway.url, client_key("load"))
        return False

    await until(counted, f"{gateway.name} counting in the restarted Redis", fleet)


def store_warnings(log: str) -> list[dict[str, Any]]:
    """The warnings of the limit policy (ai_proxy.quota) among a process's JSON log lines."""
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [e for e in entries if e["logger"] == "ai_proxy.quota" and e["level"] == "warning"]


def store_errors(url: str) -> float:
    text = httpx.get(url + "/metrics", timeout=CLIENT_TIMEOUT).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ai_proxy_limit_store_errors_total"
    )


@pytest.mark.parametrize("policy", ["allow", "deny"])
async def test_redis_killed_during_a_load_and_started_again(
    policy: Policy, upstream: FakeGemini, tmp_path: Path
) -> None:
    """While Redis is dead: "allow" serves every request, "deny" answers 529 to every one;
    readiness stays 200; after the restart the gateways count in Redis again."""
    served_while_down = "message" if policy == "allow" else "overloaded_error"
    with (
        RedisServer(tmp_path, password=REDIS_PASSWORD) as redis,
        Fleet(
            fleet_environment(upstream, redis, policy), skews_hours=SKEWS_HOURS, logs=tmp_path
        ) as fleet,
    ):
        async with (
            httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client,
            Load(fleet, client) as load,
        ):
            outage = await kill_and_restart(load, redis)
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
            await counted_by_each_gateway(fleet, client)
        errors = [store_errors(gateway.url) for gateway in fleet.gateways]
        output = fleet.output()
        logs = [gateway.output(lines=None) for gateway in fleet.gateways]

    kinds = Counter(outcome.kind for outcome in load.outcomes)
    assert set(kinds) <= {"message", "overloaded_error"}, (kinds, output)
    before = Counter(o.kind for o in load.outcomes if o.ended <= outage.killing)
    assert set(before) == {"message"}, (before, output)
    down = Counter(o.kind for o in load.within(outage.down_from, outage.down_until))
    assert set(down) == {served_while_down}, (down, output)
    assert outage.readiness == [200, 200, 200]
    assert all(count > 0 for count in errors), errors
    assert all(store_warnings(log) for log in logs), output
    assert not any(REDIS_PASSWORD in log for log in logs)
