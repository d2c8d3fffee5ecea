"""Google's error bodies, as generativelanguage.googleapis.com sends them.

Shapes and messages come from real answers quoted in public bug reports (2024-2026): every
error is `{"error": {"code", "message", "status", "details"?}}`, pretty-printed with two
spaces. The fake labels them `application/json; charset=UTF-8` on both endpoints; a test that
needs another content type scripts an HttpReply with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
SERVICE = "generativelanguage.googleapis.com"
RPC = "type.googleapis.com/google.rpc."

BAD_KEY_MESSAGE = "API key not valid. Please pass a valid API key."
NO_KEY_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
OVERLOADED_MESSAGE = "The model is overloaded. Please try again later."
INTERNAL_MESSAGE = (
    "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting"
)
QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)

_STATUS_BY_CODE = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_body(
    code: int, message: str, *, status: str | None = None, details: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "status": status or _STATUS_BY_CODE.get(code, "UNKNOWN"),
    }
    if details:
        error["details"] = list(details)
    return {"error": error}


def encode(body: Any) -> bytes:
    """Google pretty-prints non-streamed JSON with two-space indents and a final newline."""
    return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode()


def api_key_invalid() -> dict[str, Any]:
    # Google says 400, not 401, for a wrong key; only the ErrorInfo reason tells them apart.
    return error_body(
        400,
        BAD_KEY_MESSAGE,
        details=[
            {
                "@type": RPC + "ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": SERVICE},
            },
            {"@type": RPC + "LocalizedMessage", "locale": "en-US", "message": BAD_KEY_MESSAGE},
        ],
    )


def permission_denied() -> dict[str, Any]:
    """No key at all: Google answers 403 and no details."""
    return error_body(403, NO_KEY_MESSAGE)


def rate_limited(model: str, retry_delay: str = "17s") -> dict[str, Any]:
    dimensions = {"location": "global", "model": model}
    return error_body(
        429,
        QUOTA_MESSAGE,
        details=[
            {
                "@type": RPC + "QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": f"{SERVICE}/generate_content_free_tier_requests",
                        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                        "quotaDimensions": dimensions,
                        "quotaValue": "10",
                    }
                ],
            },
            {
                "@type": RPC + "Help",
                "links": [
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            },
            {"@type": RPC + "RetryInfo", "retryDelay": retry_delay},
        ],
    )


def model_not_found(model: str, method: str = "generateContent") -> dict[str, Any]:
    return error_body(
        404,
        f"models/{model} is not found for API version v1beta, or is not supported for "
        f"{method}. Call ListModels to see the list of available models and their supported "
        "methods.",
    )


def bad_request(violations: Sequence[tuple[str | None, str]]) -> dict[str, Any]:
    """A JSON payload the parser refused: one google.rpc.BadRequest violation per problem."""
    field_violations = []
    for field, description in violations:
        violation = {"field": field, "description": description} if field else {}
        violation.setdefault("description", description)
        field_violations.append(violation)
    return error_body(
        400,
        "\n".join(description for _, description in violations),
        details=[{"@type": RPC + "BadRequest", "fieldViolations": field_violations}],
    )


def invalid_argument(message: str = "Request contains an invalid argument.") -> dict[str, Any]:
    return error_body(400, message)
