"""JSON log lines: the access line, the request id on every line of a request, lifecycle."""

from __future__ import annotations

import httpx
import orjson
from ai_proxy.http.app import create_app
from ai_proxy.http.asgi import GatewayApp

from tests.fakes.gemini import FakeGemini
from tests.fakes.gemini_replies import Usage, internal_error, text_answer

from .conftest import LogCapture, messages_body, ops_config, serve

ACCESS_FIELDS = {
    "ts", "level", "logger", "msg", "pid", "request_id", "method", "path", "status", "model",
    "provider", "upstream_model", "stream", "latency_ms", "upstream_ms", "ttft_ms",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "fallbacks",
    "retries", "error_type", "error", "client",
}  # fmt: skip


def test_access_line_with_the_callers_request_id(
    logs: LogCapture, gemini: FakeGemini, gateway_app: GatewayApp
) -> None:
    logs.configure(level="info")
    gemini.enqueue(text_answer("Hello", usage=Usage(prompt=9, candidates=4)))
    with serve(gateway_app) as url:
        response = httpx.post(
            url + "/v1/messages", json=messages_body(), headers={"x-request-id": "caller-id-42"}
        )
    assert response.status_code == 200
    assert response.headers["request-id"] == "caller-id-42"
    assert gemini.requests[-1].headers["x-request-id"] == "caller-id-42"  # sent upstream
    [line] = logs.access()
    assert set(line) >= ACCESS_FIELDS  # and whatever a platform adds (the Lambda ids)
    assert line["ts"].endswith("Z")
    expected = {
        "level": "info",
        "msg": "request",
        "request_id": "caller-id-42",
        "method": "POST",
        "path": "/v1/messages",
        "status": 200,
        "model": "fast",
        "provider": "gemini",
        "upstream_model": "gemini-2.5-flash",
        "stream": False,
        "ttft_ms": None,
        "input_tokens": 9,
        "output_tokens": 4,
        "fallbacks": 0,
        "retries": 0,
        "error_type": None,
        "client": "anonymous",
    }
    assert {key: line[key] for key in expected} == expected
    assert 0 < line["upstream_ms"] <= line["latency_ms"]
    # uvicorn's own lines come through the same JSON formatter.
    assert any(e["logger"].startswith("uvicorn") for e in logs.entries())


def test_every_line_of_a_request_carries_its_id(logs: LogCapture, gemini: FakeGemini) -> None:
    logs.configure(level="debug")
    app = create_app(ops_config(gemini.base_url, gemini.api_key, log={"log_bodies": True}))
    gemini.enqueue(internal_error(), text_answer("Hello again", chunks=2))
    with serve(app) as url:
        start = len(logs.lines())
        response = httpx.post(url + "/v1/messages", json=messages_body(stream=True))
        assert response.status_code == 200
        assert "message_stop" in response.text
        request_id = response.headers["request-id"]
        assert request_id.startswith("req_")
        logs.wait_for(lambda entries: any(e["msg"] == "request" for e in entries))
        during = [orjson.loads(line) for line in logs.lines()[start:]]
    ours = [e for e in during if e["logger"].startswith("ai_proxy")]
    # The body line, the retry line and the access line, at least; all of them carry the id.
    assert {"request body", "request"} <= {e["msg"] for e in ours}
    assert any(e["msg"].startswith("retrying") for e in ours)
    assert [e for e in ours if e.get("request_id") != request_id] == []
    [access] = [e for e in ours if e["msg"] == "request"]
    assert access["stream"] is True
    assert access["retries"] == 1
    assert access["ttft_ms"] is not None and access["ttft_ms"] <= access["latency_ms"]


def test_traceparent_lends_its_trace_id(
    logs: LogCapture, gemini: FakeGemini, gateway_app: GatewayApp
) -> None:
    logs.configure(level="info")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with serve(gateway_app) as url:
        traced = httpx.post(
            url + "/v1/messages",
            json=messages_body(),
            headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
        )
        # Too long to be an id we echo: replaced by one of ours.
        odd = httpx.post(
            url + "/v1/messages", json=messages_body(), headers={"x-request-id": "x" * 500}
        )
    assert traced.headers["request-id"] == trace_id
    assert odd.headers["request-id"].startswith("req_")
    assert [line["request_id"] for line in logs.access()] == [
        trace_id,
        odd.headers["request-id"],
    ]


def test_failures_are_logged_at_warning_and_successes_filtered_by_level(
    logs: LogCapture, gemini: FakeGemini, gateway_app: GatewayApp
) -> None:
    logs.configure(level="warning")
    with serve(gateway_app) as url:
        assert httpx.post(url + "/v1/messages", json=messages_body()).status_code == 200
        gemini.enqueue(internal_error(), internal_error(), internal_error())
        assert httpx.post(url + "/v1/messages", json=messages_body()).status_code == 500
    [line] = logs.access()
    assert (line["level"], line["status"], line["error_type"]) == ("warning", 500, "api_error")
    assert line["retries"] == 2
    assert "internal error" in line["error"]


def test_lifecycle_lines_say_what_starts_without_secrets(
    logs: LogCapture, gemini: FakeGemini, gateway_app: GatewayApp
) -> None:
    logs.configure(level="info")
    with serve(gateway_app):
        pass
    lifecycle = [e for e in logs.entries() if e["logger"] == "ai_proxy.lifecycle"]
    assert [e["msg"] for e in lifecycle] == ["starting", "stopped"]
    starting = lifecycle[0]
    assert starting["providers"] == ["gemini"]
    assert starting["aliases"] == {"fast": ["gemini/gemini-2.5-flash"]}
    assert starting["metrics"] == "prometheus"
    assert starting["upstreams"]["gemini"] == gemini.base_url
    # Every URL a real origin: a cloud provider with no region or resource yet is left out.
    assert all(
        url.startswith("https://") or url == gemini.base_url
        for url in starting["upstreams"].values()
    )
    assert "azure_openai" not in starting["upstreams"]
    assert gemini.api_key not in logs.stream.getvalue()


def test_text_format_for_people(
    logs: LogCapture, gemini: FakeGemini, gateway_app: GatewayApp
) -> None:
    logs.configure(level="info", format="text")
    with serve(gateway_app) as url:
        response = httpx.post(url + "/v1/messages", json=messages_body())
    request_id = response.headers["request-id"]
    [line] = [line for line in logs.lines() if " ai_proxy.access " in line]
    assert f"[{request_id}] request method=POST path=/v1/messages status=200" in line
    assert line.split()[1] == "INFO"


def test_a_request_refused_while_reading_its_body_is_logged_and_counted(
    logs: LogCapture, gemini: FakeGemini
) -> None:
    logs.configure(level="info")
    app = create_app(ops_config(gemini.base_url, gemini.api_key, server={"max_body_bytes": 2048}))
    with serve(app) as url:
        response = httpx.post(
            url + "/v1/messages", content=b"x" * 5000, headers={"x-request-id": "too-big-1"}
        )
        metrics = httpx.get(url + "/metrics").text
    assert (response.status_code, response.headers["request-id"]) == (413, "too-big-1")
    [line] = logs.access()
    assert (line["request_id"], line["status"], line["error_type"]) == (
        "too-big-1",
        413,
        "request_too_large",
    )
    assert "ai_proxy_requests_in_flight 0.0" in metrics
    assert 'error_type="request_too_large",provider="none"} 1.0' in metrics
