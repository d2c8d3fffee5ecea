"""The same figures as /metrics, as CloudWatch Embedded Metric Format lines (AWS Lambda).

On Lambda nothing scrapes /metrics, so this observer prints one EMF JSON line per request
through aws-lambda-powertools' Metrics, and CloudWatch turns the lines into metrics. The Lambda
adapter installs it:

    gateway.observers.append(EmfMetrics(gateway.config))

powertools is imported when an EmfMetrics is made, never by the core otherwise (it is in the
`aws` extra). Dimensions are bounded like Prometheus labels (observability.BoundedLabels):
every unique dimension set is a billed custom metric.
"""

from __future__ import annotations

from typing import Any

from .config import Config
from .observability import RequestRecord, model_labels, route_label

NAMESPACE = "ai-proxy"
# RequestRecord.usage key -> metric name.
TOKEN_METRICS = (
    ("input_tokens", "InputTokens"),
    ("output_tokens", "OutputTokens"),
    ("cache_read_input_tokens", "CacheReadTokens"),
    ("cache_creation_input_tokens", "CacheCreationTokens"),
)


class EmfMetrics:
    def __init__(
        self, config: Config, namespace: str = NAMESPACE, service: str = "ai-proxy"
    ) -> None:
        from aws_lambda_powertools import Metrics
        from aws_lambda_powertools.metrics import MetricUnit

        self._metrics: Any = Metrics(namespace=namespace, service=service)
        self._count = MetricUnit.Count
        self._ms = MetricUnit.Milliseconds
        self._client_models, self._upstream_models = model_labels(config)

    def request_started(self, record: RequestRecord) -> None:
        pass

    def stream_started(self, record: RequestRecord) -> None:
        pass

    def request_finished(self, record: RequestRecord) -> None:
        metrics, count, ms = self._metrics, self._count, self._ms
        ok = record.ok
        metrics.add_dimension(name="route", value=route_label(record.path))
        metrics.add_dimension(name="provider", value=record.provider or "none")
        metrics.add_dimension(name="model", value=self._client_models.get(record.client_model, ok))
        metrics.add_metric(name="Requests", unit=count, value=1)
        metrics.add_metric(name="ClientErrors", unit=count, value=int(400 <= record.status < 500))
        metrics.add_metric(name="ServerErrors", unit=count, value=int(record.status >= 500))
        if record.finished is not None:
            latency = (record.finished - record.started) * 1000
            metrics.add_metric(name="Latency", unit=ms, value=latency)
        if record.upstream_started is not None and record.upstream_finished is not None:
            upstream = (record.upstream_finished - record.upstream_started) * 1000
            metrics.add_metric(name="UpstreamLatency", unit=ms, value=upstream)
        if record.stream and record.first_token is not None:
            first = (record.first_token - record.started) * 1000
            metrics.add_metric(name="TimeToFirstToken", unit=ms, value=first)
        for usage_key, name in TOKEN_METRICS:
            tokens = record.usage.get(usage_key)
            if tokens:
                metrics.add_metric(name=name, unit=count, value=tokens)
        if record.fallbacks:
            metrics.add_metric(name="Fallbacks", unit=count, value=record.fallbacks)
        if record.retries:
            metrics.add_metric(name="Retries", unit=count, value=record.retries)
        metrics.flush_metrics()
        if record.error_type is not None:
            self._single("Errors", "error_type", record.error_type)

    def secret_refresh_failed(self, source: str) -> None:
        self._single("SecretRefreshFailures", "source", source)

    def limit_store_failed(self, store: str) -> None:
        self._single("LimitStoreErrors", "store", store)

    def _single(self, name: str, dimension: str, value: str) -> None:
        """A count of one under its own dimension (its own line: dimensions are per line)."""
        self._metrics.add_dimension(name=dimension, value=value)
        self._metrics.add_metric(name=name, unit=self._count, value=1)
        self._metrics.flush_metrics()
