"""Anthropic behind the gateway: a pass-through that relays bytes and observes usage."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

import orjson

from ...anthropic.envelope import ClientRequest
from ...errors import GatewayError, UpstreamError
from ..base import Provider, Reply, RequestContext, UpstreamRequest
from .errors import from_anthropic_error
from .request import to_anthropic_body
from .stream import RelayingReply

DEFAULT_VERSION = "2023-06-01"
# Client headers Anthropic gets as they were sent (the gateway's allow-list may hold more).
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")


class AnthropicProvider(Provider):
    name = "anthropic"
    key_setting = "providers.anthropic.api_key"

    def build_request(
        self, request: ClientRequest, context: RequestContext, api_key: str
    ) -> UpstreamRequest:
        return UpstreamRequest(
            url=self._url("/v1/messages", request),
            headers=self._headers(context, api_key),
            body=to_anthropic_body(request.body, context.upstream_model),
            stream=request.stream,
        )

    def new_reply(self, context: RequestContext) -> Reply:
        return RelayingReply(context.client_model)

    def build_count_tokens_request(
        self, request: ClientRequest, context: RequestContext, api_key: str
    ) -> UpstreamRequest:
        return UpstreamRequest(
            url=self._url("/v1/messages/count_tokens", request),
            headers=self._headers(context, api_key),
            body=to_anthropic_body(request.body, context.upstream_model),
        )

    def parse_count_tokens(self, body: bytes) -> int:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
        tokens = payload.get("input_tokens") if isinstance(payload, dict) else None
        if not isinstance(tokens, int):
            raise UpstreamError(
                f"anthropic count_tokens answered without input_tokens: {body[:200]!r}"
            )
        return tokens

    def error_from_response(
        self, status: int, headers: Mapping[str, str], body: bytes
    ) -> GatewayError:
        return from_anthropic_error(status, headers, body)

    def _url(self, path: str, request: ClientRequest) -> str:
        # The SDK's beta calls add ?beta=true; Anthropic gets it as the client sent it.
        beta = ("beta", "true") in parse_qsl(request.query)
        return f"{self.config.base_url}{path}{'?beta=true' if beta else ''}"

    def _headers(self, context: RequestContext, api_key: str) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            # Only ever the configured key: the client's x-api-key/authorization stay here.
            "x-api-key": api_key,
            "anthropic-version": DEFAULT_VERSION,
        }
        for name in FORWARDED_HEADERS:
            value = context.forward_headers.get(name)
            if value:
                headers[name] = value
        return headers
