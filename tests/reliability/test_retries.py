"""Retries of the same target (backoff, Retry-After, budget), then the fallback chain."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import replace

import httpx
import pytest
from ai_proxy.config import RetriesConfig
from ai_proxy.errors import (
    InvalidRequest,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    from_upstream_status,
)
from ai_proxy.retry import RetryPolicy, parse_retry_after

from tests.fakes.gemini import (
    Cut,
    FakeGemini,
    HttpReply,
    internal_error,
    invalid_argument,
    overloaded,
    rate_limited,
    text_answer,
)
from tests.sse_grammar import check_stream

from .conftest import RecordSpy, body, config_for, running
from .faults import ResettingUpstream, closed_port_url

FAST = RetriesConfig(initial_backoff_seconds=0.1, max_backoff_seconds=0.4, budget_seconds=10)


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    policy = RetryPolicy(RetriesConfig(max_retries=10), random.Random(7))
    error = from_upstream_status(503, "busy", None)
    for retry, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 8.0]):
        delays = [policy.delay(error, retry, 0.0) for _ in range(200)]
        assert all(d is not None and 0.0 <= d <= ceiling for d in delays)
        assert max(d for d in delays if d is not None) > ceiling * 0.8  # spread, not fixed


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 529])
def test_transient_statuses_are_retried(status: int) -> None:
    policy = RetryPolicy(RetriesConfig())
    assert policy.delay(from_upstream_status(status, "x", None), 0, 0.0) is not None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422, 501])
def test_other_statuses_are_not_retried(status: int) -> None:
    policy = RetryPolicy(RetriesConfig())
    assert policy.delay(from_upstream_status(status, "x", None), 0, 0.0) is None


def test_local_failures_are_not_retried() -> None:
    policy = RetryPolicy(RetriesConfig())
    assert policy.delay(UpstreamTimeout("read timeout"), 0, 0.0) is None
    assert policy.delay(UpstreamError("garbled reply"), 0, 0.0) is None
    assert policy.delay(InvalidRequest("bad"), 0, 0.0) is None
    assert policy.delay(UpstreamError("reset", retry_same_target=True), 0, 0.0) is not None


def test_attempts_retry_after_and_budget_bound_retries() -> None:
    policy = RetryPolicy(RetriesConfig(max_retries=2, budget_seconds=5, max_retry_after_seconds=3))
    error = from_upstream_status(503, "busy", None)
    assert policy.delay(error, 1, 0.0) is not None
    assert policy.delay(error, 2, 0.0) is None  # attempts used up
    # Regression: asking twice drew two jitters, so the assertion itself could flake.
    late = policy.delay(error, 0, 4.99)  # only a jitter that still fits the budget
    assert late is None or late <= 0.01
    assert policy.delay(error, 0, 5.0) is None  # budget spent
    waited = from_upstream_status(429, "slow down", "2")
    assert policy.delay(waited, 0, 0.0) == pytest.approx(2.0, abs=0.5)
    delay = policy.delay(waited, 0, 0.0)
    assert delay is not None and delay >= 2.0  # never sooner than upstream asked
    assert policy.delay(from_upstream_status(429, "x", "4"), 0, 0.0) is None  # over the cap
    assert policy.delay(from_upstream_status(429, "x", "2"), 0, 3.5) is None  # over the budget
    assert policy.delay(RateLimited("our own limit", retry_after="1"), 0, 0.0) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        ("1.5", 1.5),
        (" 0 ", 0.0),
        ("-4", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
    ],
)
def test_retry_after_parsing(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_retry_after_as_an_http_date() -> None:
    from email.utils import formatdate

    parsed = parse_retry_after(formatdate(time.time() + 30, usegmt=True))
    assert parsed is not None and 28 <= parsed <= 31


# --- through the real app against the fake Gemini ---------------------------------------


def test_a_429_with_retry_after_is_waited_then_retried(
    gemini: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    gemini.enqueue(
        HttpReply(429, b'{"error":{"code":429,"message":"slow"}}', headers=(("Retry-After", "1"),)),
        text_answer("after the wait"),
    )
    spy = RecordSpy()
    with running(config_for(gemini.base_url)) as (base_url, gateway):
        gateway.observers.append(spy)
        begun = time.monotonic()
        with caplog.at_level(logging.INFO, logger="ai_proxy.gateway"):
            response = httpx.post(base_url + "/v1/messages", json=body(), timeout=10)
        elapsed = time.monotonic() - begun
        [record] = spy.wait_for(1)
    assert response.status_code == 200
    assert response.json()["content"][0]["text"] == "after the wait"
    assert 1.0 <= elapsed < 3.0
    assert len(gemini.requests) == 2
    assert record.retries == 1 and record.fallbacks == 0 and record.status == 200
    assert any("retrying gemini/gemini-2.5-flash" in r.getMessage() for r in caplog.records)


def test_gemini_retry_info_counts_as_retry_after(gemini: FakeGemini) -> None:
    gemini.enqueue(rate_limited(retry_delay="1s"), text_answer("ok"))
    with running(config_for(gemini.base_url)) as (base_url, _):
        begun = time.monotonic()
        response = httpx.post(base_url + "/v1/messages", json=body(), timeout=10)
    assert response.status_code == 200
    assert time.monotonic() - begun >= 1.0


def test_500_and_503_are_retried_with_backoff(gemini: FakeGemini) -> None:
    gemini.enqueue(internal_error(), overloaded(), text_answer("third time lucky"))
    spy = RecordSpy()
    with running(config_for(gemini.base_url)) as (base_url, gateway):
        gateway.observers.append(spy)
        response = httpx.post(base_url + "/v1/messages", json=body(), timeout=10)
        [record] = spy.wait_for(1)
    assert response.status_code == 200
    assert len(gemini.requests) == 3
    assert record.retries == 2


def test_retries_are_bounded_and_the_last_error_is_returned(gemini: FakeGemini) -> None:
    gemini.enqueue(*[overloaded()] * 5)
    with running(config_for(gemini.base_url)) as (base_url, _):
        response = httpx.post(base_url + "/v1/messages", json=body(), timeout=10)
    assert response.status_code == 529
    assert response.json()["error"]["type"] == "overloaded_error"
    assert len(gemini.requests) == 3  # max_retries = 2


def test_a_client_error_is_not_retried(gemini: FakeGemini) -> None:
    gemini.enqueue(invalid_argument("bad field"), text_answer("never"))
    with running(config_for(gemini.base_url)) as (base_url, _):
        response = httpx.post(base_url + "/v1/messages", json=body(), timeout=10)
    assert response.status_code == 400
    assert len(gemini.requests) == 1


def test_a_retry_after_over_the_cap_is_passed_to_the_client(gemini: FakeGemini) -> None:
    gemini.enqueue(
        HttpReply(
            429, b'{"error":{"code":429,"message":"later"}}', headers=(("Retry-After", "120"),)
        )
    )
    with running(config_for(gemini.base_url)) as (base_url, _):
        begun = time.monotonic()
        response = httpx.post(base_url + "/v1/messages", json=body(), timeout=10)
    assert time.monotonic() - begun < 1.0
    assert response.status_code == 429
    assert response.headers["retry-after"] == "120"
    assert len(gemini.requests) == 1


def test_the_budget_stops_retries(gemini: FakeGemini) -> None:
    gemini.enqueue(*[overloaded()] * 20)
    config = config_for(
        gemini.base_url,
        retries={
            "max_retries": 10,
            "initial_backoff_seconds": 0.2,
            "max_backoff_seconds": 1.0,
            "budget_seconds": 0.5,
        },
    )
    with running(config) as (base_url, _):
        begun = time.monotonic()
        response = httpx.post(base_url + "/v1/messages", json=body(), timeout=10)
    assert response.status_code == 529
    assert time.monotonic() - begun < 1.0
    assert 1 <= len(gemini.requests) < 10


def test_retries_then_the_fallback_target(gemini: FakeGemini) -> None:
    gemini.enqueue(overloaded(), overloaded(), overloaded(), text_answer("from pro"))
    chain = ["gemini/gemini-2.5-flash", "gemini/gemini-2.5-pro"]
    config = config_for(gemini.base_url, routing={"aliases": {"claude-sonnet-4-5": chain}})
    spy = RecordSpy()
    with running(config) as (base_url, gateway):
        gateway.observers.append(spy)
        response = httpx.post(
            base_url + "/v1/messages", json=body(model="claude-sonnet-4-5"), timeout=10
        )
        [record] = spy.wait_for(1)
    assert response.status_code == 200
    assert response.json()["model"] == "claude-sonnet-4-5"
    assert response.headers["x-ai-proxy-served-by"] == "gemini/gemini-2.5-pro"
    assert [r.model for r in gemini.requests] == ["gemini-2.5-flash"] * 3 + ["gemini-2.5-pro"]
    assert record.retries == 2 and record.fallbacks == 1


def test_a_failure_before_the_stream_starts_is_retried(gemini: FakeGemini) -> None:
    gemini.enqueue(internal_error(), text_answer("streamed after a retry", chunks=3))
    with running(config_for(gemini.base_url)) as (base_url, _):
        response = httpx.post(base_url + "/v1/messages", json=body(stream=True), timeout=10)
    events = check_stream(response.content)
    assert events[-1]["type"] == "message_stop"
    assert len(gemini.requests) == 2


@pytest.mark.parametrize("reset", [False, True])
def test_never_retried_once_the_stream_started(gemini: FakeGemini, reset: bool) -> None:
    gemini.enqueue(
        replace(text_answer("one two three four", chunks=4), cut=Cut(2, reset=reset)),
        text_answer("must not be used"),
    )
    spy = RecordSpy()
    with running(config_for(gemini.base_url)) as (base_url, gateway):
        gateway.observers.append(spy)
        response = httpx.post(base_url + "/v1/messages", json=body(stream=True), timeout=10)
        [record] = spy.wait_for(1)
    events = check_stream(response.content)
    assert events[0]["type"] == "message_start"
    assert events[-1]["type"] == "error"
    assert len(gemini.requests) == 1 and gemini.pending == 1
    assert record.retries == 0


def test_connection_refused_is_retried_then_reported(gemini: FakeGemini) -> None:
    config = config_for(closed_port_url())
    with running(config) as (base_url, _):
        begun = time.monotonic()
        response = httpx.post(base_url + "/v1/messages", json=body(), timeout=10)
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "api_error"
    assert "unreachable" in response.json()["error"]["message"]
    assert "127.0.0.1" not in response.text  # no upstream address in client errors
    assert time.monotonic() - begun < 2.0


def test_a_reset_before_the_answer_is_retried() -> None:
    upstream = ResettingUpstream()
    with upstream.server, running(config_for(upstream.server.base_url)) as (base_url, _):
        response = httpx.post(base_url + "/v1/messages", json=body(), timeout=10)
    assert response.status_code == 502
    assert "closed the connection" in response.json()["error"]["message"] or (
        "connection failed" in response.json()["error"]["message"]
    )
    assert upstream.hits == 3


def test_an_unreachable_first_target_falls_back(gemini: FakeGemini) -> None:
    """Two providers' worth of targets on one fake: the first points at a closed port."""
    config = config_for(
        gemini.base_url,
        routing={"aliases": {"m": ["openai/gpt-4.1", "gemini/gemini-2.5-flash"]}},
        providers={
            "gemini": {"base_url": gemini.base_url, "api_key": "test-gemini-key"},
            "openai": {"base_url": closed_port_url() + "/v1", "api_key": "sk-test"},
        },
    )
    with running(config) as (base_url, _):
        response = httpx.post(base_url + "/v1/messages", json=body(model="m"), timeout=10)
    assert response.status_code == 200
    assert response.headers["x-ai-proxy-served-by"] == "gemini/gemini-2.5-flash"
