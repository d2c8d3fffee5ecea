"""POST /v1/messages/count_tokens: routed, with fallbacks, like /v1/messages."""

from __future__ import annotations

from .. import exchange
from ..anthropic.envelope import ClientRequest
from ..errors import CountingUnsupported
from ..fallback import Fallbacks
from ..observability import RequestRecord
from ..plain import CoreRequest, CoreResponse, json_response
from ..routing import Target
from . import Targets


class CountTokensEndpoint:
    def __init__(self, targets: Targets, fallbacks: Fallbacks) -> None:
        self._targets = targets
        self._fallbacks = fallbacks

    async def __call__(self, request: CoreRequest, record: RequestRecord) -> CoreResponse:
        parsed = ClientRequest.from_body(request.body, request.query)
        return json_response({"input_tokens": await self.count(parsed, request, record)})

    async def count(
        self, parsed: ClientRequest, request: CoreRequest, record: RequestRecord
    ) -> int:
        """The input tokens of `parsed`, counted by the model's target (Gemini's countTokens is
        served by it too)."""
        record.client_model = parsed.model
        return await self._fallbacks.serve(
            parsed.model, record, lambda target: self._count(parsed, request, target, record)
        )

    async def _count(
        self, request: ClientRequest, core: CoreRequest, target: Target, record: RequestRecord
    ) -> int:
        attempt = self._targets.attempt(request, core, target, record)
        provider = attempt.provider
        upstream_request = attempt.count_tokens_request(request)
        if upstream_request is None:
            return provider.count_tokens_locally(request, attempt.context)
        try:
            body = await exchange.fetch(attempt.upstream, provider, upstream_request, record)
        except CountingUnsupported:
            # Not for this model (Bedrock's CountTokens for some): our own count, as for a
            # provider without a counting API, rather than an error the client cannot act on.
            return provider.count_tokens_locally(request, attempt.context)
        return provider.parse_count_tokens(body)
