"""OpenAI error answers -> the gateway's error tree (status, type, Retry-After, try_next_target)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ai_proxy.config import ProviderConfig
from ai_proxy.errors import (
    AuthenticationFailed,
    BillingError,
    GatewayError,
    InvalidRequest,
    NotFound,
    Overloaded,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from ai_proxy.providers.openai import OpenAIProvider

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openai"
PROVIDER = OpenAIProvider(ProviderConfig(base_url="https://api.openai.com/v1"))


def error(status: int, body: bytes | str, **headers: str) -> GatewayError:
    raw = body if isinstance(body, bytes) else (FIXTURES / body).read_bytes()
    return PROVIDER.error_from_response(status, headers, raw)


def test_rate_limit_keeps_retry_after() -> None:
    result = error(429, "error_rate_limit.json", **{"retry-after": "5"})
    assert isinstance(result, RateLimited) and result.try_next_target
    assert (result.status, result.error_type, result.retry_after) == (429, "rate_limit_error", "5")
    assert "Rate limit reached for gpt-4o" in result.message
    assert (b"retry-after", b"5") in result.headers()


def test_retry_after_ms_is_rounded_up_to_seconds() -> None:
    result = error(429, "error_rate_limit.json", **{"retry-after-ms": "4460", "retry-after": "5"})
    assert result.retry_after == "5"
    assert error(429, "error_rate_limit.json", **{"retry-after-ms": "120"}).retry_after == "1"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-ratelimit-reset-tokens": "4.46s", "x-ratelimit-remaining-tokens": "0"}, "5"),
        (
            {
                "x-ratelimit-reset-requests": "6m0s",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-tokens": "20ms",
                "x-ratelimit-remaining-tokens": "10",
            },
            "360",
        ),
        ({"x-ratelimit-reset-requests": "1h2m3.5s", "x-ratelimit-reset-tokens": "2s"}, "3724"),
        ({"x-ratelimit-reset-tokens": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_from_rate_limit_reset_headers(
    headers: dict[str, str], expected: str | None
) -> None:
    assert error(429, "error_rate_limit.json", **headers).retry_after == expected


def test_header_names_are_case_insensitive() -> None:
    result = PROVIDER.error_from_response(
        429, {"Retry-After": "9"}, (FIXTURES / "error_rate_limit.json").read_bytes()
    )
    assert result.retry_after == "9"


def test_insufficient_quota_is_a_billing_error_not_a_rate_limit() -> None:
    result = error(429, "error_insufficient_quota.json", **{"retry-after": "1"})
    assert isinstance(result, BillingError) and not isinstance(result, RateLimited)
    assert (result.status, result.error_type) == (402, "billing_error")
    assert result.retry_after is None
    assert result.try_next_target  # a fallback target on another account may still serve it
    assert "exceeded your current quota" in result.message


def test_invalid_key_names_the_setting() -> None:
    result = error(401, "error_invalid_api_key.json")
    assert isinstance(result, AuthenticationFailed)
    assert "providers.openai.api_key" in result.message


def test_context_length_uses_anthropic_wording() -> None:
    result = error(400, "error_context_length.json")
    assert isinstance(result, InvalidRequest)
    assert result.message.startswith("prompt is too long")
    assert "128000 tokens" in result.message


@pytest.mark.parametrize(
    ("status", "kind", "expected_status"),
    [
        (400, InvalidRequest, 400),
        (403, PermissionDenied, 403),
        (404, NotFound, 404),
        (500, UpstreamError, 500),
        (502, UpstreamError, 502),
        (503, Overloaded, 529),
        (504, UpstreamTimeout, 504),
    ],
)
def test_statuses(status: int, kind: type[GatewayError], expected_status: int) -> None:
    body = (
        b'{"error": {"message": "something", "type": "server_error", "param": null, "code": null}}'
    )
    result = error(status, body)
    assert isinstance(result, kind) and result.status == expected_status
    assert result.message == "openai: something"


def test_non_json_error_body() -> None:
    result = error(502, b"<html>Bad gateway</html>")
    assert isinstance(result, UpstreamError) and "Bad gateway" in result.message
    assert "(empty body)" in error(500, b"").message
