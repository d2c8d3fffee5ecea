"""Gemini's error body (`{"error": {"code", "message", "status", "details"}}`) -> our errors."""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from ...errors import (
    AuthenticationFailed,
    GatewayError,
    UpstreamError,
    from_upstream_status,
    prompt_too_long,
)


def from_gemini_error(status: int, body: bytes) -> GatewayError:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body[:300].decode("utf-8", errors="replace").strip() or "(empty body)"
        return from_upstream_status(status, f"gemini upstream error {status}: {text}", None)
    return from_gemini_error_payload(payload, status)


def from_gemini_error_payload(payload: Any, status: int | None) -> GatewayError:
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return UpstreamError(f"gemini upstream error {status}: {str(payload)[:300]}")
    code = status if status is not None else _int(error.get("code"), 500)
    message = str(error.get("message") or error.get("status") or "unknown error")
    details = error.get("details")
    if not isinstance(details, list):
        details = []
    if any(isinstance(d, dict) and d.get("reason") == "API_KEY_INVALID" for d in details):
        # Gemini answers 400 to a bad key; to the client it is the gateway's credential.
        return AuthenticationFailed(
            "gemini rejected the configured API key (providers.gemini.api_key)"
        )
    if code == 400 and "exceeds the maximum number of tokens" in message:
        # "The input token count (1196265) exceeds the maximum number of tokens allowed
        # (1048576)." in Anthropic's words, which Claude Code recognises.
        counts = [int(n) for n in re.findall(r"\((\d+)\)", message)]
        tokens, maximum = counts if len(counts) == 2 else (None, None)
        text = prompt_too_long(f"gemini: {message}", tokens, maximum)
        return from_upstream_status(code, text, None)
    return from_upstream_status(code, f"gemini: {message}", _retry_after(details))


def _retry_after(details: list[Any]) -> str | None:
    """Gemini puts the back-off in a google.rpc.RetryInfo detail: `"retryDelay": "17s"`."""
    for detail in details:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            delay = str(detail.get("retryDelay", "")).removesuffix("s")
            try:
                return str(max(1, math.ceil(float(delay))))
            except ValueError:
                return None
    return None


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) else default
