"""Bedrock's errors -> ours, for an HTTP error answer and for a stream's exception message.

Bedrock names the error in the `x-amzn-ErrorType` header (`ValidationException:http://...`),
in the body's `__type`, or, inside a stream, in `:exception-type` (lower camel case there:
`throttlingException`); the text is the body's `message`. One table maps every name, so a
throttle reads the same before and after the 200. Statuses follow botocore's service model
(ModelNotReadyException is a 429 that AWS's SDKs retry, so it is a rate limit here too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from ...errors import (
    AuthenticationFailed,
    CountingUnsupported,
    GatewayError,
    InvalidRequest,
    NotFound,
    Overloaded,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    from_upstream_status,
    prompt_too_long,
)

# Refusals of the gateway's own AWS credentials (or of a Bedrock API key).
_CREDENTIAL_ERRORS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
        "ExpiredTokenException",
        "InvalidClientTokenId",
    }
)
# Bedrock's own words ("Input is too long for requested model.") and Anthropic's, which
# Bedrock passes on for Claude ("prompt is too long: 215000 tokens > 200000 maximum").
_TOO_LONG = re.compile(r"input is too long|prompt is too long|too many input tokens", re.I)
_TOKENS = re.compile(r"(\d+) tokens > (\d+) maximum")
# IAM's denial names the action and resource: "... is not authorized to perform:
# bedrock:InvokeModel on resource: arn:aws:bedrock:... because ...".
_DENIED = re.compile(r"perform: (\S+) on resource: (\S+)")
COUNTING_UNSUPPORTED = "doesn't support counting tokens"


def from_bedrock_error(status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        payload: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict):
        payload = {}
    name = lowered.get("x-amzn-errortype") or str(payload.get("__type", ""))
    message = payload.get("message") or payload.get("Message")
    if not isinstance(message, str):
        message = body[:300].decode("utf-8", errors="replace").strip() or "(empty body)"
    return bedrock_error(name, message, status, lowered.get("retry-after"))


def stream_error_event(exception_type: str, message: str) -> dict[str, object]:
    """The Anthropic `error` event for an exception message inside a stream."""
    return bedrock_error(exception_type, message, None, None).body()


def bedrock_error(
    name: str, message: str, status: int | None, retry_after: str | None
) -> GatewayError:
    """One Bedrock error by name (any of its spellings); `status` None inside a stream."""
    # "ValidationException:http://internal.amazon.com/coral/..." and "...#ValidationException"
    name = name.split(":")[0].rsplit("#")[-1]
    name = name[:1].upper() + name[1:]
    text = f"bedrock {name or 'error'}: {message}"
    match name:
        case "ThrottlingException" | "ModelNotReadyException":
            return RateLimited(text, retry_after=retry_after, retry_same_target=True)
        case "ServiceQuotaExceededException":
            # An account quota: another target may serve, the same one will not soon.
            return RateLimited(text, retry_after=retry_after, retry_same_target=False)
        case "ServiceUnavailableException":
            return Overloaded(text, retry_after=retry_after, retry_same_target=True)
        case "InternalServerException":
            return UpstreamError(text, status=500, retry_same_target=True)
        case "ModelErrorException" | "ModelStreamErrorException":
            return UpstreamError(text, status=502, retry_same_target=True)
        case "ModelTimeoutException":
            return UpstreamTimeout(text, retry_same_target=True)
        case "ValidationException":
            return _validation(text)
        case "AccessDeniedException":
            return _access_denied(message)
        case "ResourceNotFoundException":
            return NotFound(text)
        case _ if name in _CREDENTIAL_ERRORS:
            return AuthenticationFailed(
                f"bedrock refused the gateway's AWS credentials ({name}): {message}"
            )
    return from_upstream_status(status or 500, text, retry_after)


def _validation(text: str) -> InvalidRequest:
    if COUNTING_UNSUPPORTED in text:
        return CountingUnsupported(text)
    if _TOO_LONG.search(text):
        # Claude Code recognises Anthropic's wording and compacts the conversation.
        counts = _TOKENS.search(text)
        return InvalidRequest(
            prompt_too_long(
                text,
                int(counts[1]) if counts else None,
                int(counts[2]) if counts else None,
            )
        )
    return InvalidRequest(text)


def _access_denied(message: str) -> PermissionDenied:
    """Name what to grant: the IAM action and the resource when IAM's denial says them, else
    model access itself (the Bedrock console's "model access" for this account and region)."""
    denied = _DENIED.search(message)
    if denied is not None:
        action, resource = denied[1], denied[2].rstrip(".,")
        return PermissionDenied(
            f"bedrock: the gateway's AWS identity lacks the permission {action} on "
            f"{resource}: {message}",
            try_next_target=True,  # the gateway's grant, not the client's request
        )
    return PermissionDenied(
        "bedrock: access denied; the gateway's AWS identity needs bedrock:InvokeModel and "
        "bedrock:InvokeModelWithResponseStream on the model (and model access granted in "
        f"this region): {message}",
        try_next_target=True,
    )
