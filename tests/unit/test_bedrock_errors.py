"""Bedrock's errors, each mapped to the Anthropic error a client expects (one table)."""

from __future__ import annotations

import json

import pytest
from ai_proxy.errors import CountingUnsupported, GatewayError
from ai_proxy.providers.bedrock.errors import from_bedrock_error

NAMESPACE = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


def mapped(status: int, name: str, message: str, **headers: str) -> GatewayError:
    body = json.dumps({"message": message}).encode()
    return from_bedrock_error(status, {"x-amzn-ErrorType": name + NAMESPACE, **headers}, body)


@pytest.mark.parametrize(
    ("status", "name", "our_status", "error_type", "retried"),
    [
        (429, "ThrottlingException", 429, "rate_limit_error", True),
        (429, "ModelNotReadyException", 429, "rate_limit_error", True),
        (400, "ServiceQuotaExceededException", 429, "rate_limit_error", False),
        (503, "ServiceUnavailableException", 529, "overloaded_error", True),
        (500, "InternalServerException", 500, "api_error", True),
        (424, "ModelErrorException", 502, "api_error", True),
        (408, "ModelTimeoutException", 504, "timeout_error", True),
        (400, "ValidationException", 400, "invalid_request_error", False),
        (403, "AccessDeniedException", 403, "permission_error", False),
        (404, "ResourceNotFoundException", 404, "not_found_error", False),
        (403, "UnrecognizedClientException", 401, "authentication_error", False),
        (403, "InvalidSignatureException", 401, "authentication_error", False),
        (403, "ExpiredTokenException", 401, "authentication_error", False),
        (403, "MissingAuthenticationTokenException", 401, "authentication_error", False),
        (418, "SomethingNewException", 400, "invalid_request_error", False),
    ],
)
def test_error_table(
    status: int, name: str, our_status: int, error_type: str, retried: bool
) -> None:
    error = mapped(status, name, "words from Bedrock")
    assert (error.status, error.error_type, error.retry_same_target) == (
        our_status,
        error_type,
        retried,
    )
    assert "words from Bedrock" in error.message


def test_the_name_is_read_from___type_without_the_header() -> None:
    body = b'{"__type": "com.amazon.coral.service#ThrottlingException", "message": "slow down"}'
    error = from_bedrock_error(429, {}, body)
    assert error.error_type == "rate_limit_error"


def test_retry_after_is_kept() -> None:
    assert mapped(429, "ThrottlingException", "x", **{"Retry-After": "3"}).retry_after == "3"


@pytest.mark.parametrize(
    ("message", "counts"),
    [
        ("Input is too long for requested model.", ""),
        ("prompt is too long: 215000 tokens > 200000 maximum", ": 215000 tokens > 200000 maximum"),
    ],
)
def test_a_prompt_over_the_window_is_worded_as_anthropic_words_it(
    message: str, counts: str
) -> None:
    error = mapped(400, "ValidationException", message)
    assert error.message.startswith(f"prompt is too long{counts} (")
    assert message in error.message


def test_access_denied_names_the_action_and_resource() -> None:
    denial = (
        "User: arn:aws:sts::123456789012:assumed-role/gw/x is not authorized to perform: "
        "bedrock:InvokeModelWithResponseStream on resource: "
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-x-v1:0 because no "
        "identity-based policy allows the bedrock:InvokeModelWithResponseStream action"
    )
    error = mapped(403, "AccessDeniedException", denial)
    assert error.message.startswith(
        "bedrock: the gateway's AWS identity lacks the permission "
        "bedrock:InvokeModelWithResponseStream on "
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-x-v1:0:"
    )
    model_access = mapped(403, "AccessDeniedException", "You don't have access to the model.")
    assert "bedrock:InvokeModel" in model_access.message


def test_a_model_without_counting_is_marked_for_local_counting() -> None:
    error = mapped(
        400, "ValidationException", "The provided model doesn't support counting tokens."
    )
    assert isinstance(error, CountingUnsupported)


def test_a_body_that_is_not_json_keeps_its_text() -> None:
    error = from_bedrock_error(502, {}, b"Bad Gateway")
    assert error.status == 502 and "Bad Gateway" in error.message
