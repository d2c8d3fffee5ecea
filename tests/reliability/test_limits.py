"""Request-rate limits per client key, the body size limit, the upstream concurrency cap."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
from ai_proxy.gateway import CoreRequest, Gateway
from ai_proxy.limits import ConcurrencyCap, TokenBucketLimiter

from tests.fakes.gemini import FakeGemini, Hang, Timing, text_answer
from tests.sse_grammar import check_stream

from .conftest import CLIENT_KEY, OTHER_KEY, body, client_for, config_for, keyed, running


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucketLimiter(clock=clock)
    assert all(bucket.take("a", 60) == 0.0 for _ in range(60))  # burst = one minute's worth
    assert bucket.take("a", 60) == pytest.approx(1.0)
    clock.now += 0.5
    assert bucket.take("a", 60) == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.take("a", 60) == 0.0
    assert bucket.take("b", 60) == 0.0  # another key, another bucket
    clock.now += 3600
    assert sum(bucket.take("a", 60) == 0.0 for _ in range(100)) == 60  # never above capacity


def test_token_bucket_burst_is_configurable() -> None:
    clock = Clock()
    bucket = TokenBucketLimiter(burst=2, clock=clock)
    assert [bucket.take("a", 600) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.1)]


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


def test_rate_limits_are_off_by_default(gemini: FakeGemini) -> None:
    with running(config_for(gemini.base_url, auth=keyed())) as (base_url, gateway):
        assert gateway.admission.rate_limiter is None
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
