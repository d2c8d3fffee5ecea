"""Anthropic's error body passes through to the client as it came, with its status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ...errors import GatewayError, from_upstream_status


class AnthropicUpstreamError(GatewayError):
    """Anthropic already speaks our clients' error format: keep its body (type, message,
    request_id) and status, 529 and all; only `try_next_target` and `retry_same_target` are
    ours, for the fallback chain and retries."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        raw_body: bytes,
        *,
        retry_after: str | None,
        try_next_target: bool,
        retry_same_target: bool,
    ) -> None:
        super().__init__(
            message,
            retry_after=retry_after,
            status=status,
            try_next_target=try_next_target,
            retry_same_target=retry_same_target,
        )
        self.error_type = error_type
        self._raw_body = raw_body

    def body(self) -> dict[str, Any]:
        payload: dict[str, Any] = orjson.loads(self._raw_body)
        return payload

    def json_body(self) -> bytes:
        return self._raw_body


def from_anthropic_error(status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
    retry_after = headers.get("retry-after")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if not (
        isinstance(error, dict)
        and isinstance(error.get("type"), str)
        and isinstance(error.get("message"), str)
    ):
        # Not Anthropic's own answer (a proxy's HTML page, say): map it like any upstream's.
        text = body[:300].decode("utf-8", errors="replace").strip() or "(empty body)"
        return from_upstream_status(
            status, f"anthropic upstream error {status}: {text}", retry_after
        )
    mapped = from_upstream_status(status, error["message"], retry_after)
    return AnthropicUpstreamError(
        status,
        error["type"],
        error["message"],
        body,
        retry_after=retry_after,
        try_next_target=mapped.try_next_target,
        retry_same_target=mapped.retry_same_target,
    )
