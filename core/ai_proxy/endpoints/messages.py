"""POST /v1/messages: parse the client's request, then serve it through the fallback chain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .. import exchange
from ..anthropic.envelope import ClientRequest
from ..errors import Overloaded
from ..fallback import Fallbacks
from ..limits import ConcurrencyCap
from ..logs import log_body
from ..observability import RequestRecord
from ..plain import SSE_HEADERS, CoreRequest, CoreResponse, json_response
from ..routing import Target
from ..streams import StreamBody
from . import Targets


class MessagesEndpoint:
    def __init__(
        self,
        targets: Targets,
        fallbacks: Fallbacks,
        upstream_cap: ConcurrencyCap,
        *,
        ping_interval: float,
        log_bodies: bool,
        finish: Callable[[RequestRecord], Awaitable[None]],
    ) -> None:
        self._targets = targets
        self._fallbacks = fallbacks
        self._cap = upstream_cap
        self._ping_interval = ping_interval
        self._log_bodies = log_bodies
        # Settles and reports a streamed request once its stream has ended (Gateway.finish).
        self._finish = finish

    async def __call__(self, request: CoreRequest, record: RequestRecord) -> CoreResponse:
        if self._log_bodies:
            log_body("request body", request.body)
        answer = await self.serve(
            ClientRequest.from_body(request.body, request.query), request, record
        )
        if isinstance(answer, bytes):
            return json_response(answer)
        return CoreResponse(200, list(SSE_HEADERS), answer)

    async def serve(
        self, parsed: ClientRequest, request: CoreRequest, record: RequestRecord
    ) -> bytes | StreamBody:
        """The Anthropic answer to `parsed`: a message's JSON, or its stream of events (which
        holds its concurrency slot until it is closed). The other client formats
        (ai_proxy.endpoints.ingress) are served by it too."""
        record.client_model = parsed.model
        record.stream = parsed.stream
        cap = self._cap
        if not cap.try_acquire():
            raise Overloaded(
                f"this instance has {cap.limit} upstream requests in flight "
                "(limits.max_concurrent_upstream); retry shortly",
                try_next_target=False,
            )
        try:
            answer = await self._fallbacks.serve(
                parsed.model, record, lambda target: self._serve(parsed, request, target, record)
            )
        except BaseException:
            cap.release()
            raise
        if isinstance(answer, bytes):
            cap.release()
            return answer
        # The stream keeps its slot until it is closed (see ai_proxy.streams).
        return answer.on_close(cap.release)

    async def _serve(
        self, request: ClientRequest, core: CoreRequest, target: Target, record: RequestRecord
    ) -> bytes | StreamBody:
        attempt = self._targets.attempt(request, core, target, record)
        context = attempt.context
        upstream_request = attempt.request(request)
        reply = attempt.provider.new_reply(context)
        if request.stream:
            return await exchange.stream(
                attempt.upstream,
                attempt.provider,
                upstream_request,
                record,
                reply,
                self._ping_interval,
                self._finish,
            )
        upstream_body = await exchange.fetch(
            attempt.upstream, attempt.provider, upstream_request, record
        )
        body = reply.body(upstream_body, record)
        if self._log_bodies:
            log_body("response body", body)
        return body
