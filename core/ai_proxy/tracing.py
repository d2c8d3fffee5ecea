"""OpenTelemetry traces: one span per request, a child span per upstream attempt.

An `Observer`, like the Prometheus metrics: imported and registered only when `otel.enabled`
(extra `ai-proxy[otel]`), so a gateway without it imports nothing of OpenTelemetry. Spans are
made when the request ends, from the `RequestRecord` (its timestamps and `attempts`): nothing
is added to the request's path but the ids chosen when it starts, which an attempt needs to
tell upstream its parent (the W3C `traceparent` sent with it).

Attributes follow the GenAI semantic conventions at `SEMCONV_VERSION` (`gen_ai.provider.name`,
which replaced `gen_ai.system` in 1.37.0). Never message content, keys or headers: only model
names, counts, statuses and error types.

Exported over OTLP/HTTP protobuf by the SDK's exporter, which reads the standard variables
(OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, ..._HEADERS, ..._TIMEOUT,
OTEL_BSP_*, OTEL_TRACES_SAMPLER, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util.types import AttributeValue

from .config import Config
from .observability import (
    Attempt,
    RequestRecord,
    TraceContext,
    parse_traceparent,
    route_label,
)

SEMCONV_VERSION = "1.37.0"
SCHEMA_URL = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
# Our provider names -> gen_ai.provider.name's well-known values.
GEN_AI_PROVIDERS = {"gemini": "gcp.gemini", "openai": "openai", "anthropic": "anthropic"}
SAMPLED = 0x01
Attributes = dict[str, AttributeValue]


class _ChosenIds(IdGenerator):
    """Ids chosen before their span is made: upstream was already told them in `traceparent`.

    Set right before `start_span` on the event loop's thread, so nothing runs in between.
    """

    def __init__(self) -> None:
        self.trace_id = 0
        self.span_id = 0
        self._random = RandomIdGenerator()

    def generate_trace_id(self) -> int:
        return self.trace_id or self._random.generate_trace_id()

    def generate_span_id(self) -> int:
        return self.span_id or self._random.generate_span_id()


class OtelTracing:
    def __init__(self, config: Config) -> None:
        settings = config.otel
        attributes: Attributes = {}
        if not os.environ.get("OTEL_SERVICE_NAME"):
            attributes["service.name"] = settings.service_name
        self._ids = _ChosenIds()
        self.provider = TracerProvider(resource=Resource.create(attributes), id_generator=self._ids)
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self._tracer = self.provider.get_tracer("ai_proxy", schema_url=SCHEMA_URL)
        self._propagate = settings.propagate_upstream

    # -- Observer --------------------------------------------------------------------------

    def request_started(self, record: RequestRecord) -> None:
        parent = parse_traceparent(record.traceparent)
        if parent is None:
            trace_id, parent_span_id, flags = secrets.randbits(128) or 1, None, SAMPLED
        else:
            trace_id, parent_span_id, flags = parent
        record.trace = TraceContext(
            trace_id, secrets.randbits(64) or 1, parent_span_id, flags, self._propagate
        )

    def stream_started(self, record: RequestRecord) -> None:
        pass

    def secret_refresh_failed(self, source: str) -> None:
        pass

    def limit_store_failed(self, store: str) -> None:
        pass

    def request_finished(self, record: RequestRecord) -> None:
        ids = record.trace
        if ids is None:
            return
        to_ns = _wall_clock()
        parent_context = None
        if ids.parent_span_id is not None:
            caller = trace.SpanContext(
                ids.trace_id, ids.parent_span_id, True, trace.TraceFlags(ids.flags)
            )
            parent_context = trace.set_span_in_context(trace.NonRecordingSpan(caller))
        self._ids.trace_id, self._ids.span_id = ids.trace_id, ids.span_id
        try:
            span = self._tracer.start_span(
                f"{record.method} {route_label(record.path)}",
                context=parent_context,
                kind=SpanKind.SERVER,
                start_time=to_ns(record.started),
                attributes=request_attributes(record),
            )
            if record.status >= 500 or (record.error_type is not None and record.status < 400):
                span.set_status(StatusCode.ERROR)  # a 5xx, or a stream that ended in an error
            inside = trace.set_span_in_context(span)
            for index, attempt in enumerate(record.attempts):
                self._ids.span_id = attempt.span_id or 0
                last = index == len(record.attempts) - 1
                child = self._tracer.start_span(
                    f"chat {attempt.model}",
                    context=inside,
                    kind=SpanKind.CLIENT,
                    start_time=to_ns(attempt.started),
                    attributes=attempt_attributes(record, attempt, index, last),
                )
                if attempt.error_type is not None or (last and not record.ok):
                    child.set_status(StatusCode.ERROR)
                child.end(to_ns(_attempt_end(record, attempt, last)))
            span.end(to_ns(record.finished or time.perf_counter()))
        finally:
            self._ids.trace_id = self._ids.span_id = 0

    def close(self) -> None:
        """Export what is still queued (also done at interpreter exit)."""
        self.provider.shutdown()


def request_attributes(record: RequestRecord) -> Attributes:
    attributes: Attributes = {
        "http.request.method": record.method,
        "http.route": route_label(record.path),
        "http.response.status_code": record.status,
        "ai_proxy.request_id": record.request_id,
        "ai_proxy.retries": record.retries,
        "ai_proxy.fallbacks": record.fallbacks,
    }
    if record.client_model is not None:
        attributes["gen_ai.operation.name"] = "chat"
        attributes["gen_ai.request.model"] = record.client_model
    if record.provider is not None:
        attributes["gen_ai.provider.name"] = GEN_AI_PROVIDERS.get(record.provider, record.provider)
    if record.upstream_model is not None and record.ok:
        attributes["gen_ai.response.model"] = record.upstream_model
    attributes.update(_outcome(record))
    return attributes


def attempt_attributes(
    record: RequestRecord, attempt: Attempt, index: int, last: bool
) -> Attributes:
    attributes: Attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": GEN_AI_PROVIDERS.get(attempt.provider, attempt.provider),
        "gen_ai.request.model": attempt.model,
        "ai_proxy.attempt": index,
    }
    if attempt.finished is not None:  # failed, and the next attempt (or the error) followed
        attributes["http.response.status_code"] = attempt.status
        if attempt.error_type is not None:
            attributes["error.type"] = attempt.error_type
        return attributes
    if last:
        attributes["http.response.status_code"] = record.status
        if record.ok:
            attributes["gen_ai.response.model"] = attempt.model
        attributes.update(_outcome(record))
    return attributes


def _outcome(record: RequestRecord) -> Attributes:
    attributes: Attributes = {}
    usage = record.usage
    if "input_tokens" in usage:
        attributes["gen_ai.usage.input_tokens"] = usage["input_tokens"]
    if "output_tokens" in usage:
        attributes["gen_ai.usage.output_tokens"] = usage["output_tokens"]
    if record.stop_reason is not None:
        attributes["gen_ai.response.finish_reasons"] = [record.stop_reason]
    if record.error_type is not None:
        attributes["error.type"] = record.error_type
    return attributes


def _attempt_end(record: RequestRecord, attempt: Attempt, last: bool) -> float:
    if attempt.finished is not None:
        return attempt.finished
    upstream_finished = record.upstream_finished
    if last and upstream_finished is not None and upstream_finished >= attempt.started:
        return upstream_finished
    return record.finished or time.perf_counter()


def _wall_clock() -> Callable[[float], int]:
    """perf_counter readings (what the record holds) -> epoch nanoseconds, for span times."""
    wall, perf = time.time_ns(), time.perf_counter()

    def to_ns(reading: float) -> int:
        return wall - int((perf - reading) * 1e9)

    return to_ns
