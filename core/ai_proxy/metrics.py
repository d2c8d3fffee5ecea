"""Prometheus metrics, served at GET /metrics.

An `Observer`: it is told when a request starts and ends and turns the `RequestRecord` into
counter increments and histogram observations. Label children are looked up once per label
combination and kept, so a request costs a handful of dict lookups and lock-protected adds.

Several worker processes: set `PROMETHEUS_MULTIPROC_DIR` to an empty, writable directory
before start-up (`ai-proxy --workers N` does it for you); each worker then writes its values
to files there and /metrics, from whichever worker answers, adds them all up.

Imported only when `metrics.prometheus` is on, so serverless entries never pay for it.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)

from .config import Config
from .observability import NONE, RequestRecord, model_labels, route_label, status_class

# LLM calls take from a fraction of a second to many minutes (long thinking, long outputs).
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200)
FIRST_TOKEN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60, 120)
# RequestRecord.usage key -> the `type` label of ai_proxy_tokens_total.
TOKEN_TYPES = (
    ("input_tokens", "input"),
    ("output_tokens", "output"),
    ("cache_read_input_tokens", "cache_read"),
    ("cache_creation_input_tokens", "cache_creation"),
)
# `client` is the client key's name ("none" before authentication): names are configured,
# so the label stays bounded.
REQUEST_LABELS = ("route", "model", "provider", "status_class", "client")
DURATION_LABELS = ("route", "model", "provider", "status_class")
UPSTREAM_LABELS = ("provider", "model")
# The classic text format, which every Prometheus version (and most agents) reads; newer
# prometheus-client versions label the same bytes "version=1.0.0".
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess_mode() -> bool:
    """True when values go to files in PROMETHEUS_MULTIPROC_DIR (decided at import time)."""
    return values.ValueClass is not values.MutexValue


class PrometheusMetrics:
    def __init__(self, config: Config) -> None:
        # `*_created` timestamps would double the series for no query we document.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.multiprocess = multiprocess_mode()
        # Multiprocess: values live in files, collected per scrape; a registry of our own would
        # report this process only. Single process: a registry per gateway, not the global one,
        # so several gateways in one process (tests) each count their own requests.
        registry = None if self.multiprocess else CollectorRegistry()
        self.registry = registry
        self._client_models, self._upstream_models = model_labels(config)

        def counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        def histogram(
            name: str, doc: str, labels: tuple[str, ...], buckets: tuple[float, ...]
        ) -> Histogram:
            return Histogram(name, doc, labels, buckets=buckets, registry=registry)

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, registry=registry, multiprocess_mode="livesum")

        self.requests = counter(
            "ai_proxy_requests",
            "Requests answered, by route, model, provider, status class and client key.",
            REQUEST_LABELS,
        )
        self.request_duration = histogram(
            "ai_proxy_request_duration_seconds",
            "From request received to the last byte of the answer (end of stream).",
            DURATION_LABELS,
            DURATION_BUCKETS,
        )
        self.upstream_duration = histogram(
            "ai_proxy_upstream_duration_seconds",
            "From the upstream request sent to its last byte (last attempt).",
            UPSTREAM_LABELS,
            DURATION_BUCKETS,
        )
        self.time_to_first_token = histogram(
            "ai_proxy_time_to_first_token_seconds",
            "Streams: from request received to the first content delta sent.",
            UPSTREAM_LABELS,
            FIRST_TOKEN_BUCKETS,
        )
        self.tokens = counter(
            "ai_proxy_tokens",
            "Tokens reported by the upstream, by provider, upstream model, type and client key.",
            (*UPSTREAM_LABELS, "type", "client"),
        )
        self.limit_refusals = counter(
            "ai_proxy_limit_refusals",
            "Requests refused by a client key's limit or budget (429), by key and limit.",
            ("client", "limit"),
        )
        self.limit_store_errors = counter(
            "ai_proxy_limit_store_errors",
            "Limit store calls that failed (limits.on_store_error decided the answer).",
            ("store",),
        )
        if config.limits.store == "redis":
            self.limit_store_errors.labels("redis")  # at 0 from the start, like the above
        self.errors = counter(
            "ai_proxy_errors",
            "Errors sent to clients (JSON or SSE error event), by Anthropic error type.",
            ("provider", "error_type"),
        )
        self.retries = counter(
            "ai_proxy_upstream_retries", "Repeated attempts on the same upstream.", ("provider",)
        )
        self.fallbacks = counter(
            "ai_proxy_fallbacks",
            "Requests moved on to the next target of a fallback chain.",
            ("model",),
        )
        self.secret_refresh_failures = counter(
            "ai_proxy_secret_refresh_failures",
            "Failed re-reads of the secret source (the last good keys stay in use).",
            ("source",),
        )
        if config.secrets.source != "env":
            # At 0 from the start: the first failure is then an increase an alert can see.
            self.secret_refresh_failures.labels(config.secrets.source)
        self.requests_in_flight = gauge(
            "ai_proxy_requests_in_flight", "Requests being served, streams included."
        )
        self.streams_in_flight = gauge("ai_proxy_streams_in_flight", "SSE streams open.")
        self._request_children: dict[tuple[str, str, str, str, str], tuple[Any, Any]] = {}
        self._upstream_children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._token_children: dict[tuple[str, str, str], tuple[tuple[str, Any], ...]] = {}
        self._error_children: dict[tuple[str, str], Any] = {}

    # -- Observer --------------------------------------------------------------------------

    def request_started(self, record: RequestRecord) -> None:
        self.requests_in_flight.inc()

    def stream_started(self, record: RequestRecord) -> None:
        self.streams_in_flight.inc()

    def secret_refresh_failed(self, source: str) -> None:
        self.secret_refresh_failures.labels(source).inc()

    def limit_store_failed(self, store: str) -> None:
        self.limit_store_errors.labels(store).inc()

    def request_finished(self, record: RequestRecord) -> None:
        if record.in_flight:
            self.requests_in_flight.dec()
        if record.streaming:
            self.streams_in_flight.dec()
        ok = record.ok
        provider = record.provider or "none"
        model = self._client_models.get(record.client_model, ok)
        client = record.client_name or NONE
        key = (route_label(record.path), model, provider, status_class(record.status), client)
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(*key), self.request_duration.labels(*key[:4]))
            self._request_children[key] = children
        children[0].inc()
        if record.finished is not None:
            children[1].observe(record.finished - record.started)
        if record.provider is not None:
            self._observe_upstream(record, provider, ok, client)
        if record.limit_refused is not None:
            self.limit_refusals.labels(client, record.limit_refused).inc()
        if record.error_type is not None:
            error_key = (provider, record.error_type)
            error_child = self._error_children.get(error_key)
            if error_child is None:
                error_child = self._error_children[error_key] = self.errors.labels(*error_key)
            error_child.inc()
        if record.fallbacks:
            self.fallbacks.labels(model).inc(record.fallbacks)
        if record.retries:
            self.retries.labels(provider).inc(record.retries)

    def _observe_upstream(
        self, record: RequestRecord, provider: str, ok: bool, client: str
    ) -> None:
        key = (provider, self._upstream_models.get(record.upstream_model, ok))
        children = self._upstream_children.get(key)
        if children is None:
            children = (self.upstream_duration.labels(*key), self.time_to_first_token.labels(*key))
            self._upstream_children[key] = children
        upstream_duration, first_token = children
        if record.upstream_started is not None and record.upstream_finished is not None:
            upstream_duration.observe(record.upstream_finished - record.upstream_started)
        if record.stream and record.first_token is not None:
            first_token.observe(record.first_token - record.started)
        usage = record.usage
        if usage:
            token_key = (*key, client)
            tokens = self._token_children.get(token_key)
            if tokens is None:
                tokens = tuple(
                    (usage_key, self.tokens.labels(*key, kind, client))
                    for usage_key, kind in TOKEN_TYPES
                )
                self._token_children[token_key] = tokens
            for usage_key, child in tokens:
                count = usage.get(usage_key)
                if count:
                    child.inc(count)

    # -- exposition ------------------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """The text exposition format and its content type (all workers in multiprocess mode)."""
        if self.registry is not None:
            return generate_latest(self.registry), CONTENT_TYPE
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE

    def close(self) -> None:
        """This worker is stopping: its in-flight gauges must stop counting in the sum."""
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
