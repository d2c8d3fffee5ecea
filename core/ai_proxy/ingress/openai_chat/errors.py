"""Our errors as OpenAI's error object: `{"error": {"message", "type", "param", "code"}}`.

The status is kept, with one exception: Anthropic's 529 (overloaded) becomes 503, the status
OpenAI itself answers when overloaded. The openai SDK retries both (it retries 408, 409, 429
and every 5xx), but 529 is not a status generic HTTP clients and proxies know. A 402 (the
upstream account out of credit) stays 402, which the SDK does not retry: retrying never helps.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import GatewayError

OVERLOADED_STATUS = 503
# Anthropic error type -> OpenAI error type and code.
ERROR_TYPES: dict[str, tuple[str, str | None]] = {
    "invalid_request_error": ("invalid_request_error", None),
    "authentication_error": ("invalid_request_error", "invalid_api_key"),
    "billing_error": ("insufficient_quota", "insufficient_quota"),
    "permission_error": ("invalid_request_error", "permission_denied"),
    "not_found_error": ("invalid_request_error", "model_not_found"),
    "request_too_large": ("invalid_request_error", "request_too_large"),
    "rate_limit_error": ("rate_limit_error", "rate_limit_exceeded"),
    "api_error": ("server_error", None),
    "timeout_error": ("server_error", "timeout"),
    "overloaded_error": ("server_error", "overloaded"),
}


def to_openai_error(error: GatewayError) -> tuple[int, bytes]:
    status = OVERLOADED_STATUS if error.status == 529 else error.status
    return status, orjson.dumps(error_object(error.error_type, error.message))


def error_object(anthropic_type: str, message: str) -> dict[str, Any]:
    kind, code = ERROR_TYPES.get(anthropic_type, ("server_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}
