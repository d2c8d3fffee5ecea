"""OpenAI Chat Completions (`POST /v1/chat/completions`) as a client format.

request.py translates the body onto the Anthropic Messages request (messages.py, tools.py),
answer.py and stream.py translate the answer back, errors.py renders our errors.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import GatewayError
from ..base import Conversation, Ingress, IngressCall, IngressStream
from .answer import to_chat_completion
from .errors import to_openai_error
from .request import to_messages_request
from .stream import ChatStream


class ChatConversation(Conversation):
    def __init__(self, payload: dict[str, Any], call: IngressCall) -> None:
        request = to_messages_request(payload)
        self.messages_request = request.messages_request
        self._include_usage = request.include_usage
        self._call = call

    def answer(self, message: dict[str, Any]) -> bytes:
        return orjson.dumps(to_chat_completion(message, self._call))

    def stream(self) -> IngressStream:
        return ChatStream(self._call, include_usage=self._include_usage)


class OpenAIChatIngress(Ingress):
    name = "openai_chat"

    def conversation(
        self,
        payload: dict[str, Any],
        call: IngressCall,
        *,
        stream: bool | None = None,
        sse: bool = True,
    ) -> Conversation:
        return ChatConversation(payload, call)

    def error(self, error: GatewayError) -> tuple[int, bytes]:
        return to_openai_error(error)
