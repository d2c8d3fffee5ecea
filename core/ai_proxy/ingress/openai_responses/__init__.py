"""The OpenAI Responses API (`POST /v1/responses`) as a client format, Codex CLI's.

Stateless by itself: Codex sends store=false and its whole history each turn, and our
reasoning items carry the Anthropic thinking signature as their encrypted_content, so
thinking survives a tool loop without anything kept here. `previous_response_id` is the one
piece of state: the conversation the endpoint reads from the fleet store comes in as a
`History`, and `continuation` is what it keeps once the answer is whole.
"""

from __future__ import annotations

from typing import Any

from ...errors import GatewayError
from ..base import Conversation, Ingress, IngressCall
from .answer import response_id, to_response_json
from .errors import to_responses_error
from .history import History
from .request import ResponsesRequest, to_messages_request
from .stream import ResponsesStream


class ResponsesConversation(Conversation):
    def __init__(self, request: ResponsesRequest, call: IngressCall) -> None:
        self.messages_request = request.messages_request
        self.response_id = response_id(call)
        self.store = request.store
        self._request = request
        self._call = call
        self._answered: dict[str, Any] | None = None
        self._stream: ResponsesStream | None = None

    def answer(self, message: dict[str, Any]) -> bytes:
        self._answered = message
        return to_response_json(message, self._call, self._request)

    def stream(self) -> ResponsesStream:
        self._stream = ResponsesStream(self._call, self._request)
        return self._stream

    @property
    def continuation(self) -> History | None:
        """The conversation to keep under `response_id`, once the answer is whole (answered,
        or its stream at message_stop); None before, or with `store: false`."""
        message = self._answered if self._stream is None else self._stream.message
        if message is None or not self.store:
            return None
        return self._request.history.answered(message)


class OpenAIResponsesIngress(Ingress):
    name = "openai_responses"

    def conversation(
        self,
        payload: dict[str, Any],
        call: IngressCall,
        *,
        stream: bool | None = None,
        sse: bool = True,
        previous: History | None = None,
    ) -> ResponsesConversation:
        """`previous`: the conversation `previous_response_id` names, read from the store."""
        request = to_messages_request(payload, previous)
        if stream is not None:
            request.messages_request["stream"] = stream
        return ResponsesConversation(request, call)

    def error(self, error: GatewayError) -> tuple[int, bytes]:
        return to_responses_error(error)
