"""Our errors in OpenAI's error object, before a stream starts (the chat ingress's mapping,
which both OpenAI formats share), and as a `response.failed` error once it has.
"""

from __future__ import annotations

from typing import Any

from ..openai_chat.errors import to_openai_error

__all__ = ["to_openai_error", "to_response_error"]

# Anthropic error type -> ResponseError.code: openai's type allows only its own list, and
# Codex retries `rate_limit_exceeded` (after the delay the message names) and `server_error`.
RESPONSE_ERROR_CODES = {
    "rate_limit_error": "rate_limit_exceeded",
    "invalid_request_error": "invalid_prompt",
}


def to_response_error(event: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic `error` stream event's error as a response's `error` object."""
    error = event.get("error")
    error = error if isinstance(error, dict) else {}
    kind = str(error.get("type", "api_error"))
    message = str(error.get("message") or kind)
    return {"code": RESPONSE_ERROR_CODES.get(kind, "server_error"), "message": message}
