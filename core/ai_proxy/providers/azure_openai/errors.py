"""Azure OpenAI's error answers -> our errors.

Most are OpenAI's own (`{"error": {"message", "type", "param", "code"}}`) and are mapped by
`providers.openai.errors`, Retry-After (`retry-after-ms` first) included. Azure adds its own,
with `{"error": {"code", "message"}}` and codes of its own, mapped here first:

- `PermissionDenied` (Azure answers it with 401, sometimes 403): the token is good but its
  principal lacks the role on the resource. A 403 that names the role and the data action,
  which is what an operator must grant; another fallback target may serve meanwhile.
- any other 401: the key or the token was refused, or the endpoint is not the resource's.
- `DeploymentNotFound` (404): the deployment the model maps to does not exist.
- `404 Resource not found`: what Azure answers a missing or unknown api-version (or path).
- `content_filter` (400): Azure's own content filter refused the prompt; the categories that
  tripped it are in `innererror.content_filter_result`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ...errors import (
    AuthenticationFailed,
    GatewayError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from ..openai.errors import from_openai_error

ROLE = "Cognitive Services OpenAI User"
DATA_ACTION = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
DEPLOYMENTS_SETTING = "providers.azure_openai.deployments"


def from_azure_openai_error(
    status: int, headers: Mapping[str, str], body: bytes, resource: str
) -> GatewayError:
    """`resource`: the resource's name (or its base URL), as errors show it."""
    error = _error_object(body)
    code = str(error.get("code") or "")
    message = str(error.get("message") or "")
    if code == "PermissionDenied":
        return PermissionDenied(
            f"azure_openai: the gateway's identity may not call the deployments of Azure "
            f"OpenAI resource {resource}: grant it the role '{ROLE}' (data action "
            f"{DATA_ACTION}) on the resource. Azure said: {message}",
            try_next_target=True,
        )
    if status == 401:
        return AuthenticationFailed(
            f"azure_openai: resource {resource} refused the gateway's credentials (the key "
            f"in providers.azure_openai.api_key, or the managed identity's token), or the "
            f"endpoint is not the resource's. Azure said: {message}"
        )
    if code == "DeploymentNotFound":
        return NotFound(
            f"azure_openai: resource {resource} has no deployment by the name this model "
            f"maps to: map the model to its deployment's name in {DEPLOYMENTS_SETTING} (a "
            f"model not listed is taken as its own deployment name). Azure said: {message}"
        )
    if status == 404 and code == "404":
        return NotFound(
            f"azure_openai: resource {resource} answered 'Resource not found', which is "
            "what Azure answers an api-version it does not serve: check "
            f"providers.azure_openai.api_version. Azure said: {message}"
        )
    if code == "content_filter":
        tripped = _filtered_categories(error.get("innererror"))
        return InvalidRequest(
            f"azure_openai: Azure's content filter refused the prompt{tripped}. "
            f"Azure said: {message}"
        )
    return from_openai_error(status, headers, body)


def _error_object(body: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, dict) else {}


def _filtered_categories(inner: Any) -> str:
    """' (violence: medium, jailbreak)' for the categories Azure marked filtered."""
    results = inner.get("content_filter_result") if isinstance(inner, dict) else None
    if not isinstance(results, dict):
        return ""
    tripped = []
    for category, result in results.items():
        if isinstance(result, dict) and result.get("filtered"):
            severity = result.get("severity")
            tripped.append(f"{category}: {severity}" if severity else str(category))
    return f" ({', '.join(tripped)})" if tripped else ""
