"""Vertex AI's error answers -> our errors.

Vertex answers in two shapes. The platform itself (authentication, IAM, quota, an unknown
model or project) speaks Google's `{"error": {"code", "message", "status", "details"}}` for
either publisher; Claude's own refusals (a bad request body, overload) keep Anthropic's
`{"type": "error", "error": {...}}` and pass through as Anthropic's do. The gateway's own
credentials failing is said in terms of what to fix: the ADC token, or the IAM permission.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from ...errors import AuthenticationFailed, GatewayError, PermissionDenied, from_upstream_status
from ..anthropic.errors import from_anthropic_error
from ..gemini.errors import from_gemini_error_payload

PERMISSION = "aiplatform.endpoints.predict"
ROLE = "roles/aiplatform.user"
# "Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/
# projects/p/locations/l/publishers/google/models/m' (or it may not exist)."
_DENIED = re.compile(r"Permission '([^']+)' denied on resource '(?://[^/]+/)?([^']+)'")


def from_vertex_error(status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict) and payload.get("type") == "error":
        return from_anthropic_error(status, headers, body)
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        text = body[:300].decode("utf-8", errors="replace").strip() or "(empty body)"
        return from_upstream_status(
            status, f"vertex upstream error {status}: {text}", headers.get("retry-after")
        )
    message = str(error.get("message") or error.get("status") or "unknown error")
    if status == 401 or error.get("status") == "UNAUTHENTICATED":
        return AuthenticationFailed(
            "vertex rejected the gateway's access token from Application Default "
            f"Credentials: {message}"
        )
    if status == 403 or error.get("status") == "PERMISSION_DENIED":
        return permission_denied(*_denied_on(error, message))
    if status == 400:
        # Only Gemini's requests are refused in Google's words (Claude's in Anthropic's):
        # Gemini's mapping knows its prompt-too-long wording.
        return from_gemini_error_payload(payload, status)
    return from_upstream_status(status, f"vertex: {message}", headers.get("retry-after"))


def permission_denied(permission: str, resource: str) -> PermissionDenied:
    return PermissionDenied(
        f"vertex: the gateway's credentials lack permission '{permission}' on '{resource}' "
        f"(grant the service account {ROLE} on the project, and enable the model in "
        "Model Garden)",
        try_next_target=True,  # the gateway's grant, not the client's request
    )


def _denied_on(error: dict[str, Any], message: str) -> tuple[str, str]:
    """(permission, resource) from the ErrorInfo detail, else from the message."""
    for detail in error.get("details") or ():
        metadata = detail.get("metadata") if isinstance(detail, dict) else None
        if isinstance(metadata, dict) and isinstance(metadata.get("resource"), str):
            return str(metadata.get("permission") or PERMISSION), metadata["resource"]
    found = _DENIED.search(message)
    if found is not None:
        return found.group(1), found.group(2)
    return PERMISSION, "(the model; Vertex named no resource)"
