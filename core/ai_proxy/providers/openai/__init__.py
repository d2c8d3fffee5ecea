"""OpenAI Chat Completions behind the Anthropic Messages API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ...anthropic.envelope import ClientRequest
from ...errors import GatewayError
from ...tokens import count_request_tokens, encoding_for_model, loaded_counter_for
from ..base import RequestContext, StreamTranslator, TranslatingProvider, UpstreamRequest
from ..ids import new_message_id
from ..tool_names import ToolNames
from .errors import from_openai_error
from .request import to_openai_request
from .response import OpenAIStreamTranslator


class OpenAIProvider(TranslatingProvider):
    name = "openai"
    key_setting = "providers.openai.api_key"

    def build_request(
        self, request: ClientRequest, context: RequestContext, api_key: str
    ) -> UpstreamRequest:
        body = to_openai_request(request.messages(), context.upstream_model)
        return self.chat_request(body, context, api_key, request.stream)

    def chat_request(
        self, body: dict[str, Any], context: RequestContext, api_key: str, stream: bool
    ) -> UpstreamRequest:
        """The HTTP call that carries a translated body: OpenAI's own URL and key header.
        Services speaking the same API elsewhere (Azure OpenAI) override this step only."""
        return UpstreamRequest(
            url=f"{self.config.base_url}/chat/completions",
            headers={
                "content-type": "application/json",
                "authorization": f"Bearer {api_key}",
                # OpenAI logs this id with the request, so support can find it from ours.
                "x-client-request-id": context.request_id,
            },
            body=orjson.dumps(body),
            stream=stream,
        )

    def new_translator(self, context: RequestContext) -> StreamTranslator:
        # Tool names shortened for OpenAI are mapped back from the client's own tool list.
        names = ToolNames(client_body=context.client_body)
        client_request = context.client_request
        model = context.upstream_model

        def count_input() -> int:
            # OpenAI streams usage only at the end; message_start gets our own count.
            if client_request is None:
                return 0
            counter = loaded_counter_for(encoding_for_model(model))
            return count_request_tokens(client_request.messages(), model, counter)

        return OpenAIStreamTranslator(new_message_id(), context.client_model, names, count_input)

    def error_from_response(
        self, status: int, headers: Mapping[str, str], body: bytes
    ) -> GatewayError:
        return from_openai_error(status, headers, body)
