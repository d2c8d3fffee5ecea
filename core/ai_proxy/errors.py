"""Every failure the gateway can report, as the Anthropic error a client expects.

    GatewayError                    status  error.type
    ├── InvalidRequest                400   invalid_request_error  bad JSON or schema, unsupported
    │   └── CountingUnsupported                                    counted locally instead
    ├── AuthenticationFailed          401   authentication_error   client key, upstream 401
    ├── BillingError                  402   billing_error          upstream quota exhausted
    ├── PermissionDenied              403   permission_error       upstream 403, a client key
    │                                                              on an admin route
    ├── NotFound                      404   not_found_error        unroutable model, unknown path
    ├── RequestTooLarge               413   request_too_large      body over the configured limit
    ├── RateLimited                   429   rate_limit_error       upstream 429 (Retry-After kept),
    │                                                              client key over a limit or
    │                                                              budget (ai_proxy.quota)
    ├── InternalError                 500   api_error              a bug of ours (logged with trace)
    ├── ProviderNotConfigured         500   api_error              provider has no API key
    ├── UpstreamError                 502   api_error              upstream 5xx (500 stays 500),
    │                                                              bad or truncated reply,
    │                                                              connection refused or reset
    ├── UpstreamTimeout               504   timeout_error          connect, read idle, total
    └── Overloaded                    529   overloaded_error       upstream 503/529, local cap,
                                                                   limit store down ("deny")

Before the response starts, an error is sent as a JSON body with its status. Once an SSE stream
has started, the same error becomes an ``event: error`` frame and the stream ends.
Two flags steer what happens before the response starts:

- `retry_same_target`: the same target is worth another try after a pause (ai_proxy.retry);
  set for connection failures before a response and for upstream 429, 500, 502, 503, 504, 529.
- `try_next_target`: the next fallback target may serve instead (ai_proxy.fallback); set for
  failures of the upstream or of its account, never for the client's own request.

    class default            retry_same_target   try_next_target
    BillingError                   no                 yes    another account may have credit
    RateLimited, Overloaded     by status             yes    a client key's own limit: neither
    ProviderNotConfigured          no                 yes    the next target may have a key
    UpstreamError, UpstreamTimeout  by status or      yes
                                transport failure            (ai_proxy.upstream)
    every other class              no                 no     the client's request is at fault
"""

from __future__ import annotations

import orjson


class GatewayError(Exception):
    status: int = 500
    error_type: str = "api_error"
    # What this class stands for in the OpenAPI description (ai_proxy.openapi).
    summary: str = ""
    retry_same_target: bool = False
    try_next_target: bool = False

    def __init__(
        self,
        message: str,
        *,
        retry_after: str | None = None,
        status: int | None = None,
        retry_same_target: bool | None = None,
        try_next_target: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        if status is not None:
            self.status = status
        if retry_same_target is not None:
            self.retry_same_target = retry_same_target
        if try_next_target is not None:
            self.try_next_target = try_next_target

    def body(self) -> dict[str, object]:
        return {"type": "error", "error": {"type": self.error_type, "message": self.message}}

    def json_body(self) -> bytes:
        return orjson.dumps(self.body())

    def headers(self) -> list[tuple[bytes, bytes]]:
        if self.retry_after is None:
            return []
        return [(b"retry-after", self.retry_after.encode("latin-1"))]


class InvalidRequest(GatewayError):
    status = 400
    error_type = "invalid_request_error"
    summary = "Invalid JSON, schema or unsupported feature"


class CountingUnsupported(InvalidRequest):
    """The upstream offers no token counting for this model (Bedrock's CountTokens for some):
    count_tokens counts locally instead (endpoints/count_tokens.py); never sent to a client."""


class AuthenticationFailed(GatewayError):
    status = 401
    error_type = "authentication_error"
    summary = "Missing or invalid client key"


class BillingError(GatewayError):
    """The upstream account is out of credit: not worth retrying on the same target, but
    another target (another account) may serve."""

    status = 402
    error_type = "billing_error"
    summary = "The upstream account is out of credit"
    try_next_target = True


class PermissionDenied(GatewayError):
    status = 403
    error_type = "permission_error"
    summary = "Upstream refused the gateway's provider key, or a client key on an admin route"


class NotFound(GatewayError):
    status = 404
    error_type = "not_found_error"
    summary = "Model not routed to any provider"


class RequestTooLarge(GatewayError):
    status = 413
    error_type = "request_too_large"
    summary = "Request body over server.max_body_bytes"


class RateLimited(GatewayError):
    status = 429
    error_type = "rate_limit_error"
    summary = "Client key over a limit or budget, or upstream rate limit"
    try_next_target = True


class InternalError(GatewayError):
    """A bug of ours, not an upstream failure: logged with its trace, the client told no more."""

    status = 500
    error_type = "api_error"
    summary = "a bug in the gateway"

    def __init__(self) -> None:
        super().__init__("internal gateway error")


class ProviderNotConfigured(GatewayError):
    status = 500
    error_type = "api_error"
    summary = "a provider without a key"
    try_next_target = True  # another fallback target may well be configured


class UpstreamError(GatewayError):
    status = 502
    error_type = "api_error"
    summary = "Upstream unreachable or answered something unusable"
    try_next_target = True


class UpstreamTimeout(GatewayError):
    status = 504
    error_type = "timeout_error"
    summary = "Upstream timed out"
    try_next_target = True


class Overloaded(GatewayError):
    status = 529
    error_type = "overloaded_error"
    summary = (
        "Upstream overloaded, limits.max_concurrent_upstream reached, or the limit store "
        "unavailable under limits.on_store_error = deny"
    )
    try_next_target = True


def prompt_too_long(detail: str, tokens: int | None, maximum: int | None) -> str:
    """Anthropic's words for a prompt over the context window ("prompt is too long: 215000
    tokens > 200000 maximum"), which Claude Code matches to compact the conversation (and
    reads the numbers of, to know by how much); the upstream's own words follow."""
    counts = f": {tokens} tokens > {maximum} maximum" if tokens and maximum else ""
    return f"prompt is too long{counts} ({detail})"


# Anthropic's words for a conversation with nothing in it (once blank text is dropped).
EMPTY_MESSAGES = (
    "messages: all messages must have non-empty content except for the optional final "
    "assistant message"
)


def orphan_tool_result(tool_use_id: str) -> InvalidRequest:
    """A tool_result answering no tool_use, refused in Anthropic's words (which clients that
    repair their history match)."""
    return InvalidRequest(
        f"unexpected `tool_use_id` found in `tool_result` blocks: {tool_use_id}. Each "
        "`tool_result` block must have a corresponding `tool_use` block in the previous message."
    )


# Upstream answers worth another try of the same target after a pause.
SAME_TARGET_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})


def from_upstream_status(status: int, message: str, retry_after: str | None) -> GatewayError:
    """Map an upstream HTTP error status to the error a client of Anthropic's API expects."""
    error: GatewayError
    if status == 400 or status == 422:
        error = InvalidRequest(message)
    elif status == 401:
        error = AuthenticationFailed(message)
    elif status == 403:
        error = PermissionDenied(message)
    elif status == 404:
        error = NotFound(message)
    elif status == 413:
        error = RequestTooLarge(message)
    elif status == 429:
        error = RateLimited(message, retry_after=retry_after)
    elif status in (503, 529):
        error = Overloaded(message, retry_after=retry_after)
    elif status == 504:
        error = UpstreamTimeout(message)
    elif 400 <= status < 500:
        error = InvalidRequest(message)
    else:
        # 500 stays 500 (an upstream bug); everything else 5xx is a bad gateway to the client.
        error = UpstreamError(message, status=500 if status == 500 else 502)
    error.retry_same_target = status in SAME_TARGET_RETRY_STATUSES
    return error


# The tree drawn above, in its order (a subclass elsewhere, e.g. a provider's, adds no status).
ERROR_CLASSES: tuple[type[GatewayError], ...] = tuple(
    cls for cls in GatewayError.__subclasses__() if cls.__module__ == __name__
)
