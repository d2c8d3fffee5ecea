"""Small pieces: request ids, bounded labels, the JSON formatter and its redaction."""

from __future__ import annotations

import io
import logging

import orjson
import pytest
from ai_proxy.config import LogConfig
from ai_proxy.logs import JsonFormatter, configure_logging, redact, register_secrets
from ai_proxy.observability import (
    REQUEST_ID,
    BoundedLabels,
    request_id_from_headers,
    route_label,
    status_class,
)

from .conftest import LogCapture

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-request-id": "abc-123"}, "abc-123"),
        ({"x-request-id": "abc", "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}, "abc"),
        ({"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}, TRACE_ID),
        ({"traceparent": f"00-{TRACE_ID.upper()}-00f067aa0ba902b7-01"}, TRACE_ID),
    ],
)
def test_request_id_from_the_caller(headers: dict[str, str], expected: str) -> None:
    assert request_id_from_headers(headers) == expected


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-request-id": ""},
        {"x-request-id": "a" * 129},
        {"x-request-id": "evil\r\nset-cookie: x"},
        {"traceparent": "00-" + "0" * 32 + "-00f067aa0ba902b7-01"},  # the spec's invalid id
        {"traceparent": f"ff-{TRACE_ID}-00f067aa0ba902b7-01"},  # forbidden version
        {"traceparent": "00-not-hex-at-all-really-not-hex-32-00f067aa0ba902b7-01"},
        {"traceparent": f"00-{TRACE_ID[:-1]}-00f067aa0ba902b7-01"},
        {"traceparent": "garbage"},
    ],
)
def test_request_id_generated_otherwise(headers: dict[str, str]) -> None:
    request_id = request_id_from_headers(headers)
    assert request_id.startswith("req_") and len(request_id) == 28


def test_bounded_labels_admit_only_successes_up_to_the_limit() -> None:
    labels = BoundedLabels(["alias"], limit=2)
    assert labels.get("alias", admit=False) == "alias"
    assert labels.get(None, admit=True) == "none"
    assert labels.get("failed-name", admit=False) == "other"
    assert labels.get("x" * 101, admit=True) == "other"
    assert labels.get("first", admit=True) == "first"
    assert labels.get("failed-name", admit=False) == "other"  # still not admitted
    assert labels.get("second", admit=True) == "second"
    assert labels.get("third", admit=True) == "other"
    assert labels.get("first", admit=False) == "first"


def test_routes_and_status_classes_are_a_closed_set() -> None:
    assert route_label("/v1/messages") == "/v1/messages"
    assert route_label("/v1/models/claude-x") == "/v1/models/{id}"
    assert route_label("/wp-admin/setup.php") == "other"
    # Gemini's routes name the model in the path; the label is the pattern, one per method.
    gemini = "/v1beta/models/{model}:streamGenerateContent"
    assert route_label("/v1beta/models/gemini-2.5-pro:streamGenerateContent") == gemini
    assert route_label("/v1/models/gpt-4.1:countTokens") == "/v1/models/{model}:countTokens"
    assert route_label("/v1beta/models/x:deleteEverything") == "other"
    # A Bedrock model id holds a colon: still the model lookup, not a Gemini method.
    assert route_label("/v1/models/anthropic.claude-v2:1") == "/v1/models/{id}"
    assert [status_class(s) for s in (200, 404, 529, 999, -1)] == [
        "2xx",
        "4xx",
        "5xx",
        "other",
        "other",
    ]


def test_a_key_in_an_exception_is_redacted(logs: LogCapture) -> None:
    register_secrets(["held-provider-key-123456789"])
    logs.configure(level="info")
    token = REQUEST_ID.set("req_from_context")
    try:
        try:
            raise RuntimeError("upstream said: bad key held-provider-key-123456789")
        except RuntimeError:
            logging.getLogger("ai_proxy.test").exception("it failed")
    finally:
        REQUEST_ID.reset(token)
    [entry] = logs.entries()
    assert entry["request_id"] == "req_from_context"
    assert "held-provider-key-123456789" not in logs.stream.getvalue()
    assert "bad key [redacted]" in entry["exc"]


def test_extra_attributes_become_fields() -> None:
    record = logging.LogRecord("x", logging.INFO, "f.py", 1, "hello %s", ("you",), None)
    record.aws_request_id = "lambda-123"  # what the Lambda adapter's record factory adds
    entry = orjson.loads(JsonFormatter().format(record))
    assert entry["msg"] == "hello you"
    assert entry["aws_request_id"] == "lambda-123"
    assert entry["level"] == "info"
    assert "args" not in entry and "lineno" not in entry


def test_key_shapes_are_redacted_in_foreign_text() -> None:
    text = (
        "AIzaSyA1234567890abcdefghijklmnopqrstuv sk-proj-abcdefghijklmnop1234 "
        "aip_abcdefghijklmnop1234 AKIAABCDEFGHIJKLMNOP Bearer abc.def.ghi-123 fine"
    )
    assert redact(text) == " ".join(["[redacted]"] * 5) + " fine"


def test_configure_logging_owns_the_root_logger(logs: LogCapture) -> None:
    platform = logging.StreamHandler(io.StringIO())
    logging.getLogger().addHandler(platform)
    uvicorn_handler = logging.StreamHandler(io.StringIO())
    logging.getLogger("uvicorn.error").addHandler(uvicorn_handler)
    logs.configure(level="warning")
    configure_logging(LogConfig(level="warning"), logs.stream)  # twice: still one handler
    assert platform not in logging.getLogger().handlers
    assert len(logging.getLogger().handlers) == 1
    assert logging.getLogger("uvicorn.error").handlers == []
    logging.getLogger("uvicorn.error").warning("from the server")
    logging.getLogger("ai_proxy.x").info("filtered out")
    assert [e["msg"] for e in logs.entries()] == ["from the server"]
