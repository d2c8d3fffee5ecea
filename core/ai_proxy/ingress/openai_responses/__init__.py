"""The OpenAI Responses API (`POST /v1/responses`) as a client format, Codex CLI's.

Stateless: every request carries its whole conversation (Codex sends store=false and its
history each turn); our reasoning items carry the Anthropic thinking signature as their
encrypted_content, so thinking survives a tool loop without anything kept here.
"""

from __future__ import annotations

from typing import Any

from ...errors import GatewayError
from ..base import Conversation, Ingress, IngressCall, IngressStream
from .answer import to_response_json
from .errors import to_openai_error
from .request import ResponsesRequest, to_messages_request
from .stream import ResponsesStream


class ResponsesConversation(Conversation):
    def __init__(self, request: ResponsesRequest, call: IngressCall) -> None:
        self.messages_request = request.messages_request
        self._request = request
        self._call = call

    def answer(self, message: dict[str, Any]) -> bytes:
        return to_response_json(message, self._call, self._request)

    def stream(self) -> IngressStream:
        return ResponsesStream(self._call, self._request)


class OpenAIResponsesIngress(Ingress):
    name = "openai_responses"

    def conversation(
        self,
        payload: dict[str, Any],
        call: IngressCall,
        *,
        stream: bool | None = None,
        sse: bool = True,
    ) -> Conversation:
        request = to_messages_request(payload)
        if stream is not None:
            request.messages_request["stream"] = stream
        return ResponsesConversation(request, call)

    def error(self, error: GatewayError) -> tuple[int, bytes]:
        return to_openai_error(error)
