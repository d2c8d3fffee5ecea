"""Hostile and random input: hypothesis-generated Anthropic requests.

Valid requests must translate into provider requests that the provider's published schema
accepts; invalid ones must be refused with a 4xx Anthropic error by the real app; the server
never answers 5xx to input alone, and never crashes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from ai_proxy.anthropic.models import MessagesRequest
from ai_proxy.providers.gemini.request import to_gemini_request
from ai_proxy.providers.openai.request import to_openai_request
from google.ai.generativelanguage_v1beta.types import generative_service
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.gemini import FakeGemini
from tests.fakes.gemini_rules import request_problem
from tests.fakes.gemini_schema import GENERATE_CONTENT_REQUEST, NEWER_FIELDS, schema_violations
from tests.fakes.openai import Rejected, validate_request
from tests.sse_grammar import check_stream

from .conftest import config_for, running
from .strategies import invalid_payloads, valid_requests

# Health checks are about generation speed on a busy CI machine, not about the gateway.
FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
OVER_HTTP = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


@FAST
@given(valid_requests("gemini"))
def test_valid_requests_translate_to_schema_valid_gemini_requests(payload: dict[str, Any]) -> None:
    request = MessagesRequest.model_validate(payload)
    body = to_gemini_request(request, "gemini-2.5-flash")
    assert schema_violations(body, GENERATE_CONTENT_REQUEST) == []
    message = generative_service.GenerateContentRequest.pb()()
    newer = {name for fields in NEWER_FIELDS.values() for name in fields}
    try:
        json_format.ParseDict(body, message)
    except json_format.ParseError as error:  # only fields newer than the pinned protos
        assert any(name in str(error) for name in newer), error
    assert request_problem(body, "gemini-2.5-flash", "generateContent") is None


@FAST
@given(valid_requests("openai"))
def test_valid_requests_translate_to_schema_valid_openai_requests(payload: dict[str, Any]) -> None:
    request = MessagesRequest.model_validate(payload)
    body = to_openai_request(request, "gpt-4o")
    try:
        validate_request(body)
    except Rejected as rejected:
        pytest.fail(f"OpenAI would answer 400: {rejected.message} (param {rejected.param})")


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    with FakeGemini() as gemini, running(config_for(gemini.base_url)) as (base_url, _):
        yield base_url


@pytest.fixture(scope="module")
def http(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=10) as client:
        yield client


@OVER_HTTP
@given(valid_requests("gemini"))
def test_valid_requests_are_served_through_the_app(
    http: httpx.Client, payload: dict[str, Any]
) -> None:
    response = http.post("/v1/messages", content=orjson.dumps(payload))
    assert response.status_code == 200, response.text
    if payload.get("stream"):
        assert check_stream(response.content)[-1]["type"] == "message_stop"
    else:
        message = response.json()
        assert message["type"] == "message" and message["model"] == payload["model"]


@OVER_HTTP
@given(invalid_payloads())
def test_invalid_requests_get_a_4xx_anthropic_error(http: httpx.Client, raw: bytes) -> None:
    response = http.post("/v1/messages", content=raw, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    error = response.json()
    assert error["type"] == "error" and isinstance(error["error"]["message"], str)
    assert error["error"]["type"] in {"invalid_request_error", "not_found_error"}
    assert "Traceback" not in response.text


@OVER_HTTP
@given(
    method=st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=st.sampled_from(["/v1/messages", "/v1/messages/count_tokens", "/nope", "/v1/x"]),
    headers=st.dictionaries(
        st.sampled_from(["content-type", "anthropic-version", "x-request-id", "accept"]),
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300).map(
            str.strip
        ),
        max_size=4,
    ),
)
def test_odd_methods_paths_and_headers_never_cause_5xx(
    http: httpx.Client, method: str, path: str, headers: dict[str, str]
) -> None:
    response = http.request(method, path, headers=headers)
    assert response.status_code < 500, (method, path, response.text)
