"""Azure OpenAI's error answers, as Azure sends them, mapped to the errors a client expects."""

from __future__ import annotations

from typing import Any

import orjson
from ai_proxy.config import AzureOpenAIConfig
from ai_proxy.errors import (
    AuthenticationFailed,
    GatewayError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from ai_proxy.providers.azure_openai import AzureOpenAIProvider

PROVIDER = AzureOpenAIProvider(AzureOpenAIConfig(resource="contoso", api_key="k"))


def mapped(status: int, error: dict[str, Any], **headers: str) -> GatewayError:
    body = orjson.dumps({"error": error})
    return PROVIDER.error_from_response(status, headers, body)


def test_a_missing_role_is_a_403_naming_role_data_action_and_resource() -> None:
    # Azure answers a principal without the role with 401 and code PermissionDenied.
    error = mapped(
        401,
        {
            "code": "PermissionDenied",
            "message": "The principal `5b1c` lacks the required data action `Microsoft."
            "CognitiveServices/accounts/OpenAI/deployments/chat/completions/action` to "
            "perform `POST /openai/deployments/{deployment-id}/chat/completions` operation.",
        },
    )
    assert isinstance(error, PermissionDenied)
    assert error.status == 403 and error.error_type == "permission_error"
    assert "Cognitive Services OpenAI User" in error.message
    assert (
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
        in error.message
    )
    assert "contoso" in error.message
    # The upstream's configuration, not the client's request: a fallback target may serve.
    assert error.try_next_target


def test_an_older_permission_denied_wording_maps_the_same() -> None:
    error = mapped(
        401, {"code": "PermissionDenied", "message": "Principal does not have access to API."}
    )
    assert isinstance(error, PermissionDenied)


def test_a_refused_key_is_a_401_naming_the_setting() -> None:
    error = mapped(
        401,
        {
            "code": "401",
            "message": "Access denied due to invalid subscription key or wrong API endpoint.",
        },
    )
    assert isinstance(error, AuthenticationFailed)
    assert "providers.azure_openai.api_key" in error.message
    assert "Access denied" in error.message


def test_deployment_not_found_names_the_deployments_setting() -> None:
    error = mapped(
        404,
        {
            "code": "DeploymentNotFound",
            "message": "The API deployment for this resource does not exist.",
        },
    )
    assert isinstance(error, NotFound)
    assert "providers.azure_openai.deployments" in error.message


def test_resource_not_found_points_at_the_api_version() -> None:
    error = mapped(404, {"code": "404", "message": "Resource not found"})
    assert isinstance(error, NotFound)
    assert "providers.azure_openai.api_version" in error.message


def test_the_content_filter_is_a_400_naming_what_tripped_it() -> None:
    error = mapped(
        400,
        {
            "message": "The response was filtered due to the prompt triggering Azure "
            "OpenAI's content management policy.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {
                    "hate": {"filtered": False, "severity": "safe"},
                    "jailbreak": {"filtered": True, "detected": True},
                    "violence": {"filtered": True, "severity": "medium"},
                },
            },
        },
    )
    assert isinstance(error, InvalidRequest)
    assert "(jailbreak, violence: medium)" in error.message
    assert "hate" not in error.message


def test_a_rate_limit_keeps_azures_retry_after_ms() -> None:
    error = mapped(
        429,
        {"code": "429", "message": "Requests ... have exceeded token rate limit."},
        **{"retry-after": "10", "retry-after-ms": "6500"},
    )
    assert isinstance(error, RateLimited)
    assert error.retry_after == "7"  # the more precise header, rounded up
    assert error.retry_same_target


def test_openai_shaped_errors_keep_the_openai_mapping() -> None:
    error = mapped(
        400,
        {
            "message": "This model's maximum context length is 128000 tokens. However, your "
            "messages resulted in 130000 tokens.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        },
    )
    assert isinstance(error, InvalidRequest)
    assert error.message.startswith("prompt is too long: 130000 tokens > 128000 maximum")


def test_a_body_that_is_not_json_still_maps_by_status() -> None:
    error = PROVIDER.error_from_response(503, {}, b"upstream connect error")
    assert error.status == 529
