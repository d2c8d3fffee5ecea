"""Our errors in Google's shape: `{"error": {"code", "message", "status", "details"?}}`.

Statuses follow google.rpc.Code's HTTP mapping. Three differ from ours on purpose: 529 becomes
503 (Google's own overload answer, which Google clients retry), 402 becomes 400
FAILED_PRECONDITION (how Gemini answers an account without billing: retrying never helps), and
413 becomes 400 INVALID_ARGUMENT (how Gemini answers a payload over its size limit).
A Retry-After goes into a google.rpc.RetryInfo detail, where gemini-cli reads its back-off.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import ERROR_CLASSES, GatewayError

# our status -> (HTTP status, google.rpc.Code name)
STATUSES: dict[int, tuple[int, str]] = {
    400: (400, "INVALID_ARGUMENT"),
    401: (401, "UNAUTHENTICATED"),
    402: (400, "FAILED_PRECONDITION"),
    403: (403, "PERMISSION_DENIED"),
    404: (404, "NOT_FOUND"),
    413: (400, "INVALID_ARGUMENT"),
    429: (429, "RESOURCE_EXHAUSTED"),
    500: (500, "INTERNAL"),
    502: (502, "UNAVAILABLE"),
    503: (503, "UNAVAILABLE"),
    504: (504, "DEADLINE_EXCEEDED"),
    529: (503, "UNAVAILABLE"),
}
# An Anthropic stream `error` event names its type only: the status our tree gives that type.
_TYPE_STATUS: dict[str, int] = {}
for _cls in ERROR_CLASSES:
    _TYPE_STATUS.setdefault(_cls.error_type, _cls.status)
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


def to_google_error(error: GatewayError) -> tuple[int, bytes]:
    status, body = google_error(error.status, error.message, error.retry_after)
    return status, orjson.dumps(body)


def google_error_from_event(event: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic stream `error` event as the `{"error": ...}` chunk Google ends a stream with."""
    error = event.get("error")
    error = error if isinstance(error, dict) else {}
    status = _TYPE_STATUS.get(str(error.get("type")), 500)
    return google_error(status, str(error.get("message") or "upstream error"), None)[1]


def google_error(status: int, message: str, retry_after: str | None) -> tuple[int, dict[str, Any]]:
    code, name = STATUSES.get(status) or (
        (500, "INTERNAL") if status >= 500 else (status, "UNKNOWN")
    )
    error: dict[str, Any] = {"code": code, "message": message, "status": name}
    if retry_after is not None and retry_after.isdigit():
        error["details"] = [{"@type": RETRY_INFO, "retryDelay": f"{retry_after}s"}]
    return code, {"error": error}
