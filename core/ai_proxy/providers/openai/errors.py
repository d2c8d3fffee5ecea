"""OpenAI's error body (`{"error": {"message", "type", "param", "code"}}`) -> our errors.

Two OpenAI answers need more than the status mapping in `ai_proxy.errors`:

- 429 `insufficient_quota` is a billing state, not a rate limit: retrying never helps, yet
  Anthropic SDKs retry every 429 (Claude Code up to ten times) whatever `Retry-After` says.
  It becomes Anthropic's own 402 `billing_error`, which clients do not retry. It keeps
  `try_next_target` for routing, because another fallback target bills another account.
- OpenAI's rate-limit back-off is in `retry-after` / `retry-after-ms` when present, else in
  `x-ratelimit-reset-requests` / `-tokens` as durations like `1s`, `6m0s` or `20ms`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import orjson

from ...errors import (
    AuthenticationFailed,
    BillingError,
    GatewayError,
    UpstreamError,
    from_upstream_status,
    prompt_too_long,
)

QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def from_openai_error(status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body[:300].decode("utf-8", errors="replace").strip() or "(empty body)"
        return from_upstream_status(status, f"openai upstream error {status}: {text}", None)
    return from_openai_error_payload(payload, status, _retry_after(lowered))


def from_openai_error_payload(
    payload: Any, status: int | None, retry_after: str | None = None
) -> GatewayError:
    """Also used for `{"error": ...}` objects that arrive inside a stream (no HTTP status)."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return UpstreamError(f"openai upstream error {status}: {str(payload)[:300]}")
    message = str(error.get("message") or error.get("type") or "unknown error")
    code = error.get("code")
    kind = error.get("type")
    if status is None:
        status = _status_for_type(kind, code)
    if status == 401:
        return AuthenticationFailed(
            f"openai rejected the configured API key (providers.openai.api_key): {message}"
        )
    if code in QUOTA_CODES or kind in QUOTA_CODES:
        return BillingError(f"openai: {message}")
    if code == "context_length_exceeded":
        # Claude Code recognises Anthropic's wording and compacts the conversation.
        tokens = re.search(r"resulted in (\d+) tokens", message)
        maximum = re.search(r"maximum context length is (\d+) tokens", message)
        text = prompt_too_long(
            f"openai: {message}",
            int(tokens[1]) if tokens else None,
            int(maximum[1]) if maximum else None,
        )
        return from_upstream_status(status, text, None)
    return from_upstream_status(status, f"openai: {message}", retry_after)


def _status_for_type(kind: Any, code: Any) -> int:
    if kind == "invalid_request_error":
        return 400
    if kind in ("rate_limit_error", "tokens", "requests") or code == "rate_limit_exceeded":
        return 429
    if kind == "server_overloaded" or code == "server_overloaded":
        return 503
    return 500


def _retry_after(headers: Mapping[str, str]) -> str | None:
    """Whole seconds to wait, from the most precise header OpenAI sent."""
    if headers.get("retry-after-ms"):
        seconds = _float(headers["retry-after-ms"])
        if seconds is not None:
            return _whole_seconds(seconds / 1000)
    if headers.get("retry-after"):
        return headers["retry-after"]
    # Wait for the limit that ran out; when neither says 0 remaining, for the later reset.
    resets = {
        kind: _duration(headers.get(f"x-ratelimit-reset-{kind}", ""))
        for kind in ("requests", "tokens")
    }
    exhausted = [
        reset
        for kind, reset in resets.items()
        if reset is not None and headers.get(f"x-ratelimit-remaining-{kind}") == "0"
    ]
    known = exhausted or [reset for reset in resets.values() if reset is not None]
    return _whole_seconds(max(known)) if known else None


def _duration(text: str) -> float | None:
    """OpenAI's reset durations: `1s`, `6m0s`, `1h2m3.5s`, `20ms`."""
    text = text.strip()
    if not text:
        return None
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _SECONDS[match.group(2)]
        position = match.end()
    return total if position == len(text) else None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _whole_seconds(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
