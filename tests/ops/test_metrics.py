"""GET /metrics after a known mix of requests: every counter moved by exactly what was sent,
and label values stay bounded whatever model names clients make up."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from ai_proxy.auth import hash_key
from ai_proxy.http.app import create_app
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.gemini import FakeGemini
from tests.fakes.gemini_replies import (
    Timing,
    Usage,
    internal_error,
    invalid_argument,
    mid_stream_error,
    text_answer,
)

from .conftest import messages_body, ops_config, serve

Series = tuple[str, frozenset[tuple[str, str]]]
FLASH = "gemini-2.5-flash"


def scrape(client: httpx.Client) -> dict[Series, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[Series, float], name: str, **labels: str) -> float:
    """The sum over the series of `name` that carry `labels` (PromQL's `sum` of a selector)."""
    wanted = frozenset(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


@pytest.fixture
def client(gemini: FakeGemini) -> Iterator[httpx.Client]:
    config = ops_config(
        gemini.base_url,
        gemini.api_key,
        routing={
            "aliases": {
                "fast": f"gemini/{FLASH}",
                "chain": ["gemini/gemini-2.5-pro", f"gemini/{FLASH}"],
            }
        },
    )
    with serve(create_app(config)) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def post(client: httpx.Client, model: str = "fast", stream: bool = False) -> httpx.Response:
    return client.post("/v1/messages", json=messages_body(model, stream))


def test_counters_move_by_exactly_what_was_served(client: httpx.Client, gemini: FakeGemini) -> None:
    before = scrape(client)
    # Served: JSON, streamed, retried once, and via a fallback after two retries.
    gemini.enqueue(text_answer("one", usage=Usage(prompt=11, candidates=7, cached=3)))
    assert post(client).status_code == 200
    gemini.enqueue(text_answer("two three four", chunks=3, usage=Usage(prompt=20, candidates=5)))
    streamed = post(client, stream=True)
    assert streamed.status_code == 200 and "message_stop" in streamed.text
    gemini.enqueue(internal_error(), text_answer("five", usage=Usage(prompt=4, candidates=2)))
    assert post(client).status_code == 200
    gemini.enqueue(
        internal_error(),
        internal_error(),
        internal_error(),
        text_answer("six", usage=Usage(prompt=1, candidates=1)),
    )
    assert post(client, "chain").status_code == 200
    # Failed: refused upstream, an unroutable model, a stream that breaks after its 200.
    gemini.enqueue(invalid_argument())
    assert post(client).status_code == 400
    assert post(client, "no-such-model").status_code == 404
    gemini.enqueue(
        text_answer(
            "seven eight nine",
            chunks=3,
            usage=Usage(prompt=3, candidates=1),
            stream_error=mid_stream_error(1),
            timing=Timing(between_chunks=0.05),  # the first chunk and the error: two reads
        )
    )
    broken = post(client, stream=True)
    assert broken.status_code == 200 and "event: error" in broken.text
    assert gemini.pending == 0

    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    messages = {"route": "/v1/messages"}
    fast = {**messages, "model": "fast", "provider": "gemini"}
    assert delta("ai_proxy_requests_total", **fast, status_class="2xx") == 3 + 1  # + broken
    assert delta("ai_proxy_requests_total", **fast, status_class="4xx") == 1
    assert delta("ai_proxy_requests_total", **messages, model="chain", provider="gemini",
                 status_class="2xx") == 1  # fmt: skip
    assert delta("ai_proxy_requests_total", **messages, model="other", provider="none",
                 status_class="4xx") == 1  # fmt: skip
    assert delta("ai_proxy_request_duration_seconds_count", **fast, status_class="2xx") == 4
    errors = "ai_proxy_errors_total"
    assert delta(errors, provider="gemini", error_type="invalid_request_error") == 1
    assert delta(errors, provider="none", error_type="not_found_error") == 1
    assert delta(errors, provider="gemini", error_type="api_error") == 1  # the SSE error event
    assert delta("ai_proxy_upstream_retries_total", provider="gemini") == 1 + 2
    assert delta("ai_proxy_fallbacks_total", model="chain") == 1
    upstream = {"provider": "gemini", "model": FLASH}
    # Gemini counts cached tokens inside the prompt; Anthropic's input_tokens excludes them.
    # The broken stream counts its prompt (message_start) but not its output: Gemini reports
    # output tokens on the last chunk, which never came.
    assert delta("ai_proxy_tokens_total", **upstream, type="input") == 8 + 20 + 4 + 1 + 3
    assert delta("ai_proxy_tokens_total", **upstream, type="output") == 7 + 5 + 2 + 1
    assert delta("ai_proxy_tokens_total", **upstream, type="cache_read") == 3
    assert delta("ai_proxy_time_to_first_token_seconds_count", **upstream) == 2
    # Every attempt that reached the fake was timed once per request (the last attempt).
    assert delta("ai_proxy_upstream_duration_seconds_count", **upstream) == 6
    assert value(after, "ai_proxy_requests_in_flight") == 0
    assert value(after, "ai_proxy_streams_in_flight") == 0
    # Buckets reach minutes, for LLM latencies.
    buckets = {
        dict(labels)["le"]
        for name, labels in after
        if name == "ai_proxy_request_duration_seconds_bucket"
    }
    assert {"600.0", "1200.0", "+Inf"} <= buckets


def test_in_flight_gauges_count_an_open_stream(client: httpx.Client, gemini: FakeGemini) -> None:
    gemini.enqueue(text_answer("a b c", chunks=3, timing=Timing(between_chunks=0.5)))
    with client.stream("POST", "/v1/messages", json=messages_body(stream=True)) as stream:
        frames = stream.iter_bytes()
        next(frames)  # the stream is open: first frames arrived
        during = scrape(client)
        assert value(during, "ai_proxy_streams_in_flight") == 1
        assert value(during, "ai_proxy_requests_in_flight") == 1
        assert b"message_stop" in b"".join(frames)
    after = scrape(client)
    assert value(after, "ai_proxy_streams_in_flight") == 0
    assert value(after, "ai_proxy_requests_in_flight") == 0


def test_a_thousand_unknown_model_names_add_no_series() -> None:
    known = {FLASH, "gemini-2.5-pro"}
    with FakeGemini(models=known) as gemini:
        config = ops_config(gemini.base_url, gemini.api_key)
        with serve(create_app(config)) as url, httpx.Client(base_url=url) as client:
            # One of each kind first: their "other" series exist from here on.
            assert post(client, "made-up-0").status_code == 404  # routed nowhere
            assert post(client, "gemini-made-up-0").status_code == 404  # upstream: no model
            baseline = scrape(client)
            for i in range(1, 1001):
                assert post(client, f"made-up-{i}").status_code == 404
                assert post(client, f"gemini-made-up-{i}").status_code == 404
            after = scrape(client)
    assert set(after) == set(baseline)
    other = {"route": "/v1/messages", "model": "other", "status_class": "4xx"}
    assert value(after, "ai_proxy_requests_total", **other, provider="none") == 1001
    assert value(after, "ai_proxy_requests_total", **other, provider="gemini") == 1001
    assert not any("made-up" in str(labels) for _, labels in after)


def test_model_names_served_successfully_are_named_up_to_the_limit(gemini: FakeGemini) -> None:
    config = ops_config(gemini.base_url, gemini.api_key, metrics={"max_model_labels": 2})
    with serve(create_app(config)) as url, httpx.Client(base_url=url) as client:
        for model in ("fast", "gemini-a", "gemini-b", "gemini-c", "gemini-a"):
            assert post(client, model).status_code == 200
        samples = scrape(client)
    ok = {"route": "/v1/messages", "provider": "gemini", "status_class": "2xx"}
    counts = {
        model: value(samples, "ai_proxy_requests_total", **ok, model=model)
        for model in ("fast", "gemini-a", "gemini-b", "gemini-c", "other")
    }
    # The alias is always named; two more names fit; the third new name is "other".
    assert counts == {"fast": 1, "gemini-a": 2, "gemini-b": 1, "gemini-c": 0, "other": 1}


def test_metrics_can_be_switched_off(gemini: FakeGemini) -> None:
    config = ops_config(gemini.base_url, gemini.api_key, metrics={"prometheus": False})
    with serve(create_app(config)) as url:
        assert httpx.get(url + "/metrics").status_code == 404


def test_secret_refresh_failures_are_counted_by_source(gemini: FakeGemini) -> None:
    app = create_app(ops_config(gemini.base_url, gemini.api_key))
    app.gateway.secret_refresh_failed("aws")  # what the secret source's refresh loop calls
    app.gateway.secret_refresh_failed("aws")
    with serve(app) as url, httpx.Client(base_url=url) as client:
        samples = scrape(client)
    assert value(samples, "ai_proxy_secret_refresh_failures_total", source="aws") == 2


def test_requests_and_tokens_carry_the_client_key_name(gemini: FakeGemini) -> None:
    key = "aip_metrics-client-key-0123456789abcdefghij"
    auth = {"disabled": False, "client_keys": [{"name": "ci", "sha256": hash_key(key)}]}
    config = ops_config(gemini.base_url, gemini.api_key, auth=auth)
    gemini.enqueue(text_answer("one", usage=Usage(prompt=11, candidates=7)))
    with serve(create_app(config)) as url, httpx.Client(base_url=url) as client:
        served = client.post("/v1/messages", json=messages_body(), headers={"x-api-key": key})
        assert served.status_code == 200
        assert client.post("/v1/messages", json=messages_body()).status_code == 401
        samples = scrape(client)
    ok = {"route": "/v1/messages", "status_class": "2xx"}
    assert value(samples, "ai_proxy_requests_total", **ok, client="ci") == 1
    refused = {"route": "/v1/messages", "status_class": "4xx"}
    assert value(samples, "ai_proxy_requests_total", **refused, client="none") == 1
    assert value(samples, "ai_proxy_tokens_total", type="input", client="ci") == 11
    assert value(samples, "ai_proxy_tokens_total", type="output", client="ci") == 7
    # The duration histogram keeps its labels: no series per key.
    durations = [labels for name, labels in samples if name.startswith("ai_proxy_request_dur")]
    assert durations and not any("client" in dict(labels) for labels in durations)


def test_limit_refusals_are_counted_by_client_and_limit(gemini: FakeGemini) -> None:
    key = "aip_metrics-client-key-0123456789abcdefghij"
    auth = {"disabled": False, "client_keys": [{"name": "ci", "sha256": hash_key(key)}]}
    config = ops_config(
        gemini.base_url, gemini.api_key, auth=auth, limits={"requests_per_minute": 1}
    )
    with serve(create_app(config)) as url, httpx.Client(base_url=url) as client:
        statuses = [
            client.post("/v1/messages", json=messages_body(), headers={"x-api-key": key})
            for _ in range(3)
        ]
        samples = scrape(client)
    assert [response.status_code for response in statuses] == [200, 429, 429]
    refusals = "ai_proxy_limit_refusals_total"
    assert value(samples, refusals, client="ci", limit="requests_per_minute") == 2
    # memory store: no store error series is made (it cannot fail).
    assert not any(name == "ai_proxy_limit_store_errors_total" for name, _ in samples)
