"""One upstream attempt: post, check status and content type, then read the body or stream it.

Transport failures are mapped once, by the upstream (ai_proxy.upstream): everything that
leaves here is a GatewayError. The response has one owner, the attempt's AsyncExitStack: a read
closes it before returning (not left to the garbage collector: a dropped async generator is
finalized through call_soon_threadsafe, a task and a syscall per request), a failure closes it
before raising, and a stream closes it when it ends or when its body is closed, whichever
comes first.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from .errors import GatewayError, UpstreamError, from_upstream_status
from .observability import RequestRecord
from .providers.base import Provider, Reply, UpstreamRequest
from .relay import relay_stream
from .streams import StreamBody
from .upstream import Upstream, UpstreamResponse


async def fetch(
    upstream: Upstream, provider: Provider, request: UpstreamRequest, record: RequestRecord
) -> bytes:
    """The whole body of a 200 answer in the content type the API sends."""
    async with AsyncExitStack() as exits:
        response = await _open(upstream, provider, request, record, exits)
        body = await response.read()
        record.upstream_finished = time.perf_counter()
        return body


async def stream(
    upstream: Upstream,
    provider: Provider,
    request: UpstreamRequest,
    record: RequestRecord,
    reply: Reply,
    ping_interval: float,
    finish: Callable[[RequestRecord], Awaitable[None]],
) -> StreamBody:
    """The client's SSE body, relayed as upstream sends it; `finish` settles and reports the
    request once the stream has ended and the upstream response is closed."""
    exits = AsyncExitStack()
    try:
        response = await _open(upstream, provider, request, record, exits)
    except BaseException:
        await exits.aclose()
        raise

    async def on_done() -> None:
        await exits.aclose()
        await finish(record)

    frames = relay_stream(upstream.name, response, reply, record, ping_interval, on_done)
    # exits.aclose is idempotent: the relay's own finally usually got there first.
    return StreamBody(frames).on_close(exits.aclose)


async def _open(
    upstream: Upstream,
    provider: Provider,
    request: UpstreamRequest,
    record: RequestRecord,
    exits: AsyncExitStack,
) -> UpstreamResponse:
    """The response of a 200 whose body is still unread, closed by `exits`."""
    record.upstream_started = time.perf_counter()
    # Retries and fallbacks each add one (its outcome: Fallbacks.serve, or the request's end).
    record.begin_attempt(upstream.name, record.upstream_model or "", request.headers)
    response = await upstream.post(request)
    exits.push_async_callback(response.close)
    if response.status != 200:
        body = await response.read()
        record.upstream_finished = time.perf_counter()
        raise failure_from_response(provider, response, body)
    check_content_type(upstream.name, response, request)
    return response


def failure_from_response(
    provider: Provider, response: UpstreamResponse, body: bytes
) -> GatewayError:
    content_type = response.headers.get("content-type", "")
    if "html" in content_type or body.lstrip()[:1] == b"<":
        # An error page from a proxy or load balancer in between, not the provider's API.
        return from_upstream_status(
            response.status,
            f"{provider.name} upstream answered {response.status} with an HTML page, "
            "not an API response (a proxy or load balancer in between?)",
            response.headers.get("retry-after"),
        )
    return provider.error_from_response(response.status, response.headers, body)


def check_content_type(name: str, response: UpstreamResponse, request: UpstreamRequest) -> None:
    """A 200 that is not what the API sends (a captive portal, a proxy's page) is a 502."""
    content_type = response.headers.get("content-type", "").lower()
    expected = request.stream_content_type if request.stream else "json"
    if content_type and expected not in content_type:
        shown = content_type.split(";")[0][:100]
        raise UpstreamError(
            f"{name} upstream answered with content type {shown!r}, expected "
            f"{request.stream_content_type if request.stream else 'application/json'}"
        )
