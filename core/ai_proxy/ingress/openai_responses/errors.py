"""Our errors in OpenAI's error object, before a stream starts (the chat ingress's mapping,
which both OpenAI formats share, plus OpenAI's own param and code for a previous response
that is not found), and as a `response.failed` error once it has.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import GatewayError, InvalidRequest
from ..openai_chat.errors import error_object, to_openai_error

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


class PreviousResponseNotFound(InvalidRequest):
    """`previous_response_id` names nothing kept for this client key: never stored (store:
    false), expired, or another key's (one answer for all three, so that no key learns which
    ids exist). OpenAI answers it as a 400 naming the param, with this code."""

    def __init__(self, response_id: str) -> None:
        super().__init__(
            f"previous_response_id: previous response '{response_id}' not found or expired"
        )


def to_responses_error(error: GatewayError) -> tuple[int, bytes]:
    if not isinstance(error, PreviousResponseNotFound):
        return to_openai_error(error)
    body = error_object(error.error_type, error.message)
    body["error"].update(param="previous_response_id", code="previous_response_not_found")
    return error.status, orjson.dumps(body)
