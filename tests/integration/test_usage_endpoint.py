"""Settlement and the usage ledger through the real app over HTTP: every request that got past
admission is settled (JSON, stream, upstream error, a client hanging up mid-stream), and
GET /v1/usage reports it to admin keys only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from ai_proxy.auth import hash_key

from tests.fakes.gemini import FakeGemini
from tests.fakes.gemini_replies import Timing, Usage, internal_error, mid_stream_error, text_answer
from tests.reliability.conftest import CLIENT_KEY, OTHER_KEY, body, config_for, keyed, running

ADMIN_KEY = "aip_admin-key-0123456789abcdefghijklmnopqrstuv"
CI = {"x-api-key": CLIENT_KEY}
ADMIN = {"x-api-key": ADMIN_KEY}
USAGE = Usage(prompt=100, candidates=20)  # gemini-2.5-flash: $0.00008


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def client(gemini: FakeGemini) -> Iterator[httpx.Client]:
    auth = keyed(admin_keys=[{"name": "ops", "sha256": hash_key(ADMIN_KEY)}])
    config = config_for(gemini.base_url, auth=auth, limits={"concurrent_requests": 1})
    with running(config) as (base_url, _), httpx.Client(base_url=base_url, timeout=10) as http:
        yield http


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def usage(http: httpx.Client, **params: str) -> dict[str, Any]:
    response = http.get("/v1/usage", params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


def wait_for_requests(client: httpx.Client, count: int) -> list[dict[str, Any]]:
    """The ledger once it counts `count` requests (a stream settles as its body closes)."""
    deadline = time.monotonic() + 10
    while True:
        data: list[dict[str, Any]] = usage(client)["data"]
        if sum(entry["requests"] for entry in data) >= count or time.monotonic() > deadline:
            return data
        time.sleep(0.02)


def test_json_and_streamed_answers_are_settled_at_the_served_models_price(
    gemini: FakeGemini, client: httpx.Client
) -> None:
    gemini.enqueue(text_answer("hi", usage=USAGE), text_answer("hi", chunks=3, usage=USAGE))
    assert client.post("/v1/messages", json=body(), headers=CI).status_code == 200
    streamed = client.post("/v1/messages", json=body(stream=True), headers=CI)
    assert streamed.status_code == 200 and "message_stop" in streamed.text
    [entry] = wait_for_requests(client, 2)
    assert entry == {
        "client": "ci",
        "model": "gemini-2.5-flash",
        "date": today(),
        "requests": 2,
        "input_tokens": 200,
        "output_tokens": 40,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cost_usd": pytest.approx(0.00016),
    }


def test_an_upstream_error_spends_nothing_and_releases_the_lease(
    gemini: FakeGemini, client: httpx.Client
) -> None:
    gemini.enqueue(internal_error(), internal_error(), internal_error())  # and its 2 retries
    failed = client.post("/v1/messages", json=body(), headers=CI)
    assert failed.status_code == 500
    assert usage(client)["data"] == []
    # concurrent_requests = 1: a lease still held would refuse this one.
    assert client.post("/v1/messages", json=body(), headers=CI).status_code == 200


def test_a_stream_that_ends_in_an_error_spends_what_was_reported(
    gemini: FakeGemini, client: httpx.Client
) -> None:
    answer = text_answer("one two three four", chunks=4, usage=USAGE)
    gemini.enqueue(replace(answer, stream_error=mid_stream_error(2)))
    broken = client.post("/v1/messages", json=body(stream=True), headers=CI)
    assert broken.status_code == 200 and "event: error" in broken.text
    [entry] = wait_for_requests(client, 1)
    assert entry["input_tokens"] == 100
    assert client.post("/v1/messages", json=body(), headers=CI).status_code == 200


def test_a_client_hanging_up_mid_stream_spends_the_usage_seen_so_far(
    gemini: FakeGemini, client: httpx.Client
) -> None:
    slow = text_answer("one two three four five six", chunks=6, usage=USAGE)
    gemini.enqueue(replace(slow, timing=Timing(between_chunks=0.3)))
    with client.stream("POST", "/v1/messages", json=body(stream=True), headers=CI) as response:
        next(response.iter_bytes())  # message_start (it carries the input tokens), then hang up
    [entry] = wait_for_requests(client, 1)
    assert entry["requests"] == 1 and entry["input_tokens"] == 100
    assert entry["output_tokens"] < 20  # the answer was cut short
    assert entry["cost_usd"] > 0
    deadline = time.monotonic() + 5
    while client.post("/v1/messages", json=body(), headers=CI).status_code == 429:
        assert time.monotonic() < deadline, "the hung-up stream kept its lease"
        time.sleep(0.02)


def test_usage_answers_admin_keys_only(client: httpx.Client) -> None:
    missing = client.get("/v1/usage")
    assert missing.status_code == 401
    assert missing.json()["error"] == {
        "type": "authentication_error",
        "message": "missing admin key: send it as the x-api-key header or as "
        "Authorization: Bearer <key>",
    }
    wrong = client.get("/v1/usage", headers={"x-api-key": "aip_not-a-key"})
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "invalid admin key"
    as_client = client.get("/v1/usage", headers=CI)
    assert as_client.status_code == 403
    assert as_client.json()["error"]["type"] == "permission_error"
    assert "client key 'ci'" in as_client.json()["error"]["message"]
    bearer = client.get("/v1/usage", headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert bearer.status_code == 200
    assert bearer.json() == {"data": [], "from": today(), "to": today()}
    # An admin key serves no model.
    assert client.post("/v1/messages", json=body(), headers=ADMIN).status_code == 401


def test_usage_filters_by_client_and_dates(gemini: FakeGemini, client: httpx.Client) -> None:
    gemini.enqueue(text_answer("a", usage=USAGE), text_answer("b", usage=USAGE))
    assert client.post("/v1/messages", json=body(), headers=CI).status_code == 200
    other = client.post("/v1/messages", json=body(), headers={"x-api-key": OTHER_KEY})
    assert other.status_code == 200
    assert {entry["client"] for entry in wait_for_requests(client, 2)} == {"ci", "other"}
    only = usage(client, client="other")["data"]
    assert [entry["client"] for entry in only] == ["other"]
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    assert usage(client, **{"from": yesterday, "to": yesterday})["data"] == []
    spanning = usage(client, **{"from": yesterday})
    assert spanning["from"] == yesterday and spanning["to"] == today()
    assert len(spanning["data"]) == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-13-01"}, "from: expected a date as YYYY-MM-DD, got '2026-13-01'"),
        ({"to": "yesterday"}, "to: expected a date as YYYY-MM-DD, got 'yesterday'"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "to: must not be before from"),
        (
            {"from": "2020-01-01", "to": "2026-12-01"},
            "from, to: the range is at most 400 days (limits.usage_retention_days)",
        ),
        ({"client": "nobody"}, "client: no client key is named 'nobody'"),
        ({"since": "2026-12-01"}, "unknown query parameter 'since'; expected client, from, to"),
    ],
)
def test_bad_usage_parameters_are_400_naming_the_parameter(
    client: httpx.Client, params: dict[str, str], message: str
) -> None:
    response = client.get("/v1/usage", params=params, headers=ADMIN)
    assert response.status_code == 400
    assert response.json()["error"] == {"type": "invalid_request_error", "message": message}
