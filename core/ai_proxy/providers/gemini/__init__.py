"""Google Gemini (generativelanguage v1beta) behind the Anthropic Messages API."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from ...anthropic.envelope import ClientRequest
from ...errors import GatewayError, UpstreamError
from ..base import RequestContext, StreamTranslator, TranslatingProvider, UpstreamRequest
from ..ids import new_message_id
from ..tool_names import ToolNames
from .errors import from_gemini_error
from .grounding import text_sink_for
from .request import to_gemini_count_tokens_request, to_gemini_request
from .response import GeminiStreamTranslator


class GeminiProvider(TranslatingProvider):
    name = "gemini"
    key_setting = "providers.gemini.api_key"

    def build_request(
        self, request: ClientRequest, context: RequestContext, api_key: str
    ) -> UpstreamRequest:
        body = to_gemini_request(request.messages(), context.upstream_model)
        method = "streamGenerateContent?alt=sse" if request.stream else "generateContent"
        return UpstreamRequest(
            url=f"{self.config.base_url}/v1beta/models/{context.upstream_model}:{method}",
            headers=_headers(context, api_key),
            body=orjson.dumps(body),
            stream=request.stream,
        )

    def build_count_tokens_request(
        self, request: ClientRequest, context: RequestContext, api_key: str
    ) -> UpstreamRequest:
        body = to_gemini_count_tokens_request(request.count_tokens(), context.upstream_model)
        return UpstreamRequest(
            url=f"{self.config.base_url}/v1beta/models/{context.upstream_model}:countTokens",
            headers=_headers(context, api_key),
            body=orjson.dumps(body),
        )

    def parse_count_tokens(self, body: bytes) -> int:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            raise UpstreamError(f"gemini countTokens answered with invalid JSON: {body[:200]!r}")
        # proto3 JSON leaves out zero values: an empty prompt counts as `{}`.
        total = payload.get("totalTokens", 0)
        if not isinstance(total, int):
            raise UpstreamError(f"gemini countTokens answered without totalTokens: {body[:200]!r}")
        return total

    def new_translator(self, context: RequestContext) -> StreamTranslator:
        # Tool names shortened for Gemini are mapped back from the client's own tool list.
        names = ToolNames(client_body=context.client_body)
        request = context.client_request.messages() if context.client_request else None
        return GeminiStreamTranslator(
            new_message_id(),
            context.client_model,
            context.upstream_model,
            names,
            answer_text=text_sink_for(request),
        )

    def error_from_response(
        self, status: int, headers: Mapping[str, str], body: bytes
    ) -> GatewayError:
        error = from_gemini_error(status, body)
        if headers.get("retry-after"):
            error.retry_after = headers["retry-after"]
        return error


def _headers(context: RequestContext, api_key: str) -> dict[str, str]:
    # The key goes in a header, never in the URL, so it cannot end up in access logs.
    return {
        "content-type": "application/json",
        "x-goog-api-key": api_key,
        "x-request-id": context.request_id,
    }
