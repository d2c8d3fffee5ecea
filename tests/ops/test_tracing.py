"""OpenTelemetry traces, decoded at an OTLP/HTTP receiver on 127.0.0.1 (opentelemetry-proto).

A retried request and a request that fell back, each continuing the caller's `traceparent`:
one server span, one client span per attempt, GenAI attributes, the attempt's own traceparent
sent upstream, and nothing of the message, the keys or the headers in any span.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ai_proxy.http.app import create_app
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.fakes.gemini import FakeGemini
from tests.fakes.gemini_replies import overloaded, text_answer
from tests.fakes.server import BackgroundServer

from .conftest import messages_body, ops_config, serve

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
SECRET_TEXT = "the secret plans are in the drawer"


class OtlpReceiver:
    """POST /v1/traces: keeps every span of every export request."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.content_types: list[str] = []
        app = web.Application()
        app.router.add_post("/v1/traces", self._export)
        self.server = BackgroundServer(app, name="otlp-receiver")

    async def _export(self, request: web.Request) -> web.Response:
        self.content_types.append(request.content_type)
        export = ExportTraceServiceRequest.FromString(await request.read())
        for resource_spans in export.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(scope_spans.spans)
        return web.Response(body=b"", content_type="application/x-protobuf")

    def trace(self, trace_id: str, count: int, timeout: float = 10.0) -> list[Span]:
        """The spans of one trace, once `count` have arrived (polled, bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            spans = [s for s in self.spans if s.trace_id.hex() == trace_id]
            if len(spans) >= count:
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(spans)} of {count} spans of {trace_id} arrived")
            time.sleep(0.02)


def attributes(span: Span) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in span.attributes:
        kind = item.value.WhichOneof("value")
        if kind == "array_value":
            values[item.key] = [v.string_value for v in item.value.array_value.values]
        else:
            values[item.key] = getattr(item.value, kind)
    return values


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    otlp = OtlpReceiver()
    with otlp.server:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.server.base_url)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "ai-proxy-under-test")
        yield otlp


def _traced(gemini: FakeGemini, trace_id: str, model: str) -> httpx.Response:
    aliases = {
        "fast": "gemini/gemini-2.5-flash",
        "chain": ["gemini/gemini-1.5-flash", "gemini/gemini-2.5-flash"],
    }
    config = ops_config(
        gemini.base_url, gemini.api_key, routing={"aliases": aliases}, otel={"enabled": True}
    )
    app = create_app(config)
    with serve(app) as url:
        response = httpx.post(
            url + "/v1/messages",
            json=messages_body(model, text=SECRET_TEXT),
            headers={
                "traceparent": f"00-{trace_id}-{CALLER_SPAN}-01",
                "x-api-key": "client-secret",
            },
            timeout=10,
        )
        tracing = app.gateway.observers[-1]
        assert type(tracing).__name__ == "OtelTracing"
    return response


def _check_no_secrets(spans: list[Span], gemini: FakeGemini) -> None:
    for span in spans:
        for value in attributes(span).values():
            shown = str(value)
            assert SECRET_TEXT not in shown and gemini.api_key not in shown
            assert "client-secret" not in shown


def test_a_retried_request_is_one_span_with_a_child_per_attempt(
    gemini: FakeGemini, receiver: OtlpReceiver
) -> None:
    gemini.enqueue(overloaded(), text_answer("after a retry"))
    response = _traced(gemini, CALLER_TRACE, "fast")
    assert response.status_code == 200

    spans = receiver.trace(CALLER_TRACE, 3)
    [server] = [s for s in spans if s.kind == Span.SPAN_KIND_SERVER]
    attempts = sorted(
        (s for s in spans if s.kind == Span.SPAN_KIND_CLIENT), key=lambda s: s.start_time_unix_nano
    )
    assert server.parent_span_id.hex() == CALLER_SPAN  # the caller's trace continued
    assert server.name == "POST /v1/messages"
    assert [a.parent_span_id for a in attempts] == [server.span_id] * 2
    first, second = (attributes(a) for a in attempts)
    assert first["error.type"] == "overloaded_error" and attempts[0].status.code == 2
    assert second["gen_ai.response.model"] == "gemini-2.5-flash"
    root = attributes(server)
    assert root["gen_ai.request.model"] == "fast"
    assert root["gen_ai.response.model"] == "gemini-2.5-flash"
    assert root["gen_ai.provider.name"] == "gcp.gemini"
    assert root["gen_ai.operation.name"] == "chat"
    assert root["gen_ai.usage.input_tokens"] > 0 and root["gen_ai.usage.output_tokens"] > 0
    assert root["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert root["ai_proxy.retries"] == 1
    # Each attempt told upstream its own span as the parent.
    sent = [r.headers.get("traceparent") for r in gemini.requests]
    assert sent == [f"00-{CALLER_TRACE}-{a.span_id.hex()}-01" for a in attempts]
    assert receiver.content_types[0] == "application/x-protobuf"
    _check_no_secrets(spans, gemini)


def test_a_fallback_shows_every_target_tried(gemini: FakeGemini, receiver: OtlpReceiver) -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    gemini.enqueue(overloaded(), overloaded(), overloaded(), text_answer("from the fallback"))
    response = _traced(gemini, trace_id, "chain")
    assert response.status_code == 200

    spans = receiver.trace(trace_id, 5)
    attempts = sorted(
        (s for s in spans if s.kind == Span.SPAN_KIND_CLIENT), key=lambda s: s.start_time_unix_nano
    )
    models = [attributes(a)["gen_ai.request.model"] for a in attempts]
    assert models == ["gemini-1.5-flash"] * 3 + ["gemini-2.5-flash"]
    assert [a.name for a in attempts][-1] == "chat gemini-2.5-flash"
    [server] = [s for s in spans if s.kind == Span.SPAN_KIND_SERVER]
    root = attributes(server)
    assert root["ai_proxy.fallbacks"] == 1 and root["ai_proxy.retries"] == 2
    assert root["gen_ai.request.model"] == "chain"
    assert all(a.start_time_unix_nano >= server.start_time_unix_nano for a in attempts)
    assert all(a.end_time_unix_nano <= server.end_time_unix_nano for a in attempts)
    _check_no_secrets(spans, gemini)


def test_off_nothing_of_opentelemetry_is_imported() -> None:
    code = (
        "import sys\n"
        "from ai_proxy.config import Config\n"
        "from ai_proxy.gateway import Gateway\n"
        "Gateway(Config.model_validate({'auth': {'disabled': True}}))\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_closing_the_gateway_exports_the_spans_still_queued(
    gemini: FakeGemini, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frozen serverless process never reaches interpreter exit: shutdown must flush."""
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")  # no export on the timer
    gemini.enqueue(text_answer("hello"))
    trace_id = "5bf92f3577b34da6a3ce929d0e0e4737"
    response = _traced(gemini, trace_id, "fast")  # returns after the server shut down
    assert response.status_code == 200
    [server, attempt] = sorted(receiver.trace(trace_id, 2), key=lambda s: s.kind)
    assert server.kind == Span.SPAN_KIND_SERVER and attempt.kind == Span.SPAN_KIND_CLIENT
