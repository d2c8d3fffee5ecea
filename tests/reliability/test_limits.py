"""Limits per client key at the gateway, the body size limit, the upstream concurrency cap.

The stores' own semantics are tests/quota/'s (one contract suite over both stores)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from ai_proxy.gateway import CoreRequest, Gateway
from ai_proxy.limits import ConcurrencyCap
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.gemini import FakeGemini, Hang, Timing, text_answer
from tests.fakes.gemini_replies import Usage
from tests.sse_grammar import check_stream

from .conftest import CLIENT_KEY, OTHER_KEY, body, client_for, config_for, keyed, running

CI = {"x-api-key": CLIENT_KEY}
# gemini-2.5-flash at $0.30 in / $2.50 out per million: 100 in + 20 out = 80,000 nano-USD.
USAGE = Usage(prompt=100, candidates=20)
# Two targets: a refusal must go to neither the second nor (retried) the first.
CHAIN = {"aliases": {"chain": ["gemini/gemini-2.5-pro", "gemini/gemini-2.5-flash"]}}


def _tomorrow() -> str:
    return (datetime.now(UTC).date() + timedelta(days=1)).isoformat() + "T00:00:00Z"


def _closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _metric(http: httpx.Client, name: str, **labels: str) -> float:
    text = http.get("/metrics").text
    wanted = set(labels.items())
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and wanted <= set(sample.labels.items())
    )


def test_concurrency_cap_counts_and_refuses() -> None:
    cap = ConcurrencyCap(2)
    assert cap.try_acquire() and cap.try_acquire()
    assert not cap.try_acquire()
    cap.release()
    assert cap.try_acquire()


def test_a_key_over_its_rate_gets_429_with_retry_after(gemini: FakeGemini) -> None:
    auth = keyed()
    auth["client_keys"][1]["requests_per_minute"] = 0  # "other": unlimited
    config = config_for(gemini.base_url, auth=auth, limits={"requests_per_minute": 2})
    with client_for(config) as client:
        statuses = [
            client.post("/v1/messages", json=body(), headers={"x-api-key": CLIENT_KEY})
            for _ in range(3)
        ]
        assert [r.status_code for r in statuses] == [200, 200, 429]
        limited = statuses[-1]
        assert limited.json()["error"]["type"] == "rate_limit_error"
        assert "'ci'" in limited.json()["error"]["message"]
        assert 1 <= int(limited.headers["retry-after"]) <= 30
        assert len(gemini.requests) == 2  # the refused request never went upstream
        for _ in range(5):
            other = client.post("/v1/messages", json=body(), headers={"x-api-key": OTHER_KEY})
            assert other.status_code == 200


@pytest.mark.parametrize(
    ("limits", "words"),
    [
        (
            {"tokens_per_minute": 100},
            "its limit of 100 tokens per minute (limits.tokens_per_minute)",
        ),
        (
            {"daily_tokens": 100},
            "its daily budget of 100 tokens (limits.daily_tokens); it resets at",
        ),
        ({"monthly_tokens": 100}, "its monthly budget of 100 tokens (limits.monthly_tokens)"),
        ({"daily_usd": 0.00005}, "its daily budget of $0.00005 (limits.daily_usd); it resets at"),
        ({"monthly_usd": 0.00005}, "its monthly budget of $0.00005 (limits.monthly_usd)"),
    ],
)
def test_a_key_over_a_token_limit_or_budget_gets_429_and_no_upstream_call(
    gemini: FakeGemini, limits: dict[str, Any], words: str
) -> None:
    """The first answer spends 120 tokens ($0.00008): over each limit, so the next is refused,
    neither retried nor sent to the chain's other target."""
    gemini.enqueue(text_answer("hi", usage=USAGE))
    config = config_for(gemini.base_url, auth=keyed(), limits=limits, routing=CHAIN)
    with client_for(config) as client:
        assert client.post("/v1/messages", json=body(), headers=CI).status_code == 200
        refused = client.post("/v1/messages", json=body(model="chain"), headers=CI)
        assert refused.status_code == 429
        error = refused.json()
        assert error["type"] == "error" and error["error"]["type"] == "rate_limit_error"
        assert error["error"]["message"].startswith("client key 'ci' ")
        assert words in error["error"]["message"]
        retry_after = int(refused.headers["retry-after"])
        if "daily" in words:
            assert error["error"]["message"].endswith(_tomorrow())
            assert 1 <= retry_after <= 86400
        else:
            assert retry_after >= 1
        assert len(gemini.requests) == 1
        # Another key has its own counters.
        other = client.post("/v1/messages", json=body(), headers={"x-api-key": OTHER_KEY})
        assert other.status_code == 200


def test_a_key_over_its_concurrency_gets_429_until_its_stream_ends(gemini: FakeGemini) -> None:
    gemini.enqueue(Hang(send_headers=True))
    config = config_for(gemini.base_url, auth=keyed(), limits={"concurrent_requests": 1})
    with running(config) as (base_url, _), httpx.Client(base_url=base_url) as client:
        started = threading.Event()
        holder: list[bytes] = []

        def hold_a_stream() -> None:
            with client.stream(
                "POST", "/v1/messages", json=body(stream=True), headers=CI
            ) as response:
                started.set()
                holder.append(response.read())

        thread = threading.Thread(target=hold_a_stream)
        thread.start()
        assert started.wait(5)
        refused = client.post("/v1/messages", json=body(), headers=CI)
        assert refused.status_code == 429
        assert refused.json()["error"]["message"] == (
            "client key 'ci' is over its limit of 1 requests at once (limits.concurrent_requests)"
        )
        assert refused.headers["retry-after"] == "1"
        assert (
            _metric(
                client, "ai_proxy_limit_refusals_total", client="ci", limit="concurrent_requests"
            )
            == 1
        )
        gemini.stop()  # the held stream ends (with an SSE error): its lease goes back
        thread.join(10)
        assert check_stream(holder[0])[-1]["type"] == "error"
        # Admitted again (upstream is gone now, hence the 502: past admission, not a 429).
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            response = client.post("/v1/messages", json=body(), headers=CI)
            if response.status_code != 429:
                break
            time.sleep(0.02)
        assert response.status_code == 502


def test_with_the_store_down_allow_serves_and_counts_the_errors(gemini: FakeGemini) -> None:
    limits = {
        "store": "redis",
        "redis_url": f"redis://:a-store-password@127.0.0.1:{_closed_port()}/0",
        "requests_per_minute": 1,
    }
    with client_for(config_for(gemini.base_url, auth=keyed(), limits=limits)) as client:
        assert _metric(client, "ai_proxy_limit_store_errors_total", store="redis") == 0
        for _ in range(3):  # over the rate, but the store cannot say so
            assert client.post("/v1/messages", json=body(), headers=CI).status_code == 200
        # Each admit and each settle failed.
        assert _metric(client, "ai_proxy_limit_store_errors_total", store="redis") == 6
    assert len(gemini.requests) == 3


def test_with_the_store_down_deny_answers_529(gemini: FakeGemini) -> None:
    limits = {
        "store": "redis",
        "redis_url": f"redis://127.0.0.1:{_closed_port()}/0",
        "requests_per_minute": 100,
        "on_store_error": "deny",
    }
    with client_for(config_for(gemini.base_url, auth=keyed(), limits=limits)) as client:
        denied = client.post("/v1/messages", json=body(), headers=CI)
        assert denied.status_code == 529
        assert denied.json()["error"]["type"] == "overloaded_error"
        assert "limit store (redis) is unavailable" in denied.json()["error"]["message"]
        assert "127.0.0.1" not in denied.text
        # A route that is not metered does not need the store.
        assert client.get("/v1/models", headers=CI).status_code == 200
        assert client.get("/health/ready").status_code == 200
    assert gemini.requests == []


def test_count_tokens_is_not_metered(gemini: FakeGemini) -> None:
    config = config_for(gemini.base_url, auth=keyed(), limits={"requests_per_minute": 1})
    with client_for(config) as client:
        for _ in range(3):
            counted = client.post("/v1/messages/count_tokens", json=body(), headers=CI)
            assert counted.status_code == 200
        assert client.post("/v1/messages", json=body(), headers=CI).status_code == 200


def test_rate_limits_are_off_by_default(gemini: FakeGemini) -> None:
    with running(config_for(gemini.base_url, auth=keyed())) as (base_url, gateway):
        assert not gateway.quota.limits_of("ci").any
        with httpx.Client(base_url=base_url) as client:
            for _ in range(20):
                response = client.post(
                    "/v1/messages", json=body(), headers={"x-api-key": CLIENT_KEY}
                )
                assert response.status_code == 200


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_limit_is_413_before_it_is_parsed(
    gemini: FakeGemini, chunked: bool
) -> None:
    limit = 4096
    oversized = b"{" + b"x" * (limit * 4)  # not even JSON: a 400 would mean it was parsed

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(oversized), 1000):
            yield oversized[start : start + 1000]

    config = config_for(gemini.base_url, server={"max_body_bytes": limit})
    with client_for(config) as client:
        content = pieces() if chunked else oversized
        response = client.post("/v1/messages", content=content)
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "request_too_large"
        assert "server.max_body_bytes" in response.json()["error"]["message"]
        just_under = orjson.dumps(body(system="s" * (limit - 200)))
        assert len(just_under) <= limit
        assert client.post("/v1/messages", content=just_under).status_code == 200
    assert len(gemini.requests) == 1


def test_beyond_the_upstream_cap_a_request_gets_529_at_once(gemini: FakeGemini) -> None:
    gemini.enqueue(Hang(send_headers=True))
    config = config_for(gemini.base_url, limits={"max_concurrent_upstream": 1})
    with running(config) as (base_url, gateway), httpx.Client(base_url=base_url) as client:
        started = threading.Event()
        holder: list[bytes] = []

        def hold_a_stream() -> None:
            with client.stream("POST", "/v1/messages", json=body(stream=True)) as response:
                started.set()
                holder.append(response.read())

        thread = threading.Thread(target=hold_a_stream)
        thread.start()
        assert started.wait(5)
        assert gateway.upstream_cap.in_flight == 1
        begun = time.monotonic()
        refused = client.post("/v1/messages", json=body())
        assert time.monotonic() - begun < 1.0  # refused, not queued
        assert refused.status_code == 529
        assert refused.json()["error"]["type"] == "overloaded_error"
        assert "limits.max_concurrent_upstream" in refused.json()["error"]["message"]
        assert len(gemini.requests) == 1  # the refused one was neither sent nor retried
        gemini.stop()  # releases the hanging stream: it ends with an SSE error
        thread.join(10)
        assert check_stream(holder[0])[-1]["type"] == "error"
        deadline = time.monotonic() + 5
        while gateway.upstream_cap.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        assert gateway.upstream_cap.in_flight == 0


def test_a_client_leaving_mid_stream_frees_its_slot(gemini: FakeGemini) -> None:
    slow = text_answer("one two three four five six", chunks=6)
    from dataclasses import replace

    gemini.enqueue(replace(slow, timing=Timing(between_chunks=0.3)))
    config = config_for(gemini.base_url, limits={"max_concurrent_upstream": 1})
    with running(config) as (base_url, gateway), httpx.Client(base_url=base_url) as client:
        with client.stream("POST", "/v1/messages", json=body(stream=True)) as response:
            next(response.iter_bytes())  # the first frame, then hang up
        deadline = time.monotonic() + 5
        while gateway.upstream_cap.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        assert gateway.upstream_cap.in_flight == 0
        assert client.post("/v1/messages", json=body()).status_code == 200


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
async def test_whole_bodies_handed_to_the_gateway_are_limited_too(
    gemini: FakeGemini, path: str
) -> None:
    """Adapters that pass a whole body (not the streaming ASGI read) meet the same limit."""
    gateway = Gateway(config_for(gemini.base_url, server={"max_body_bytes": 2048}))
    try:
        oversize = body(messages=[{"role": "user", "content": "x" * 4096}])
        response = await gateway.handle(CoreRequest("POST", path, {}, orjson.dumps(oversize)))
    finally:
        await gateway.close()
    assert response.status == 413
    assert b"server.max_body_bytes" in response.body  # type: ignore[operator]
    assert gemini.requests == []
