"""Gemini's generateContent (`POST /v1beta/models/{model}:generateContent`, and
`:streamGenerateContent`, with or without `?alt=sse`) as a client format: gemini-cli's and
every app on google-genai.

request.py translates the body (contents.py, tools.py) onto the Anthropic Messages request,
answer.py and stream.py translate the answer back, errors.py renders our errors in Google's
shape, count.py serves `:countTokens`. Stateless: Anthropic thinking rides in
`thoughtSignature` (thoughts.py), as Gemini's own signatures ride in Anthropic's blocks.
"""

from __future__ import annotations

from typing import Any

from ...errors import GatewayError
from ..base import Conversation, Ingress, IngressCall, IngressStream
from .answer import to_generate_content_response
from .errors import to_google_error
from .request import to_messages_request
from .stream import GeminiStream

# Gemini's default stream (no alt=sse) is one JSON array, written element by element.
JSON_ARRAY_STREAM = b"application/json; charset=utf-8"


class GeminiConversation(Conversation):
    def __init__(
        self, payload: dict[str, Any], call: IngressCall, *, stream: bool, sse: bool
    ) -> None:
        request = to_messages_request(payload, call.client_model, stream=stream)
        self.messages_request = request.messages_request
        self._include_thoughts = request.include_thoughts
        self._call = call
        self._sse = sse
        if not sse:
            self.stream_content_type = JSON_ARRAY_STREAM

    def answer(self, message: dict[str, Any]) -> bytes:
        return to_generate_content_response(
            message, self._call, include_thoughts=self._include_thoughts
        )

    def stream(self) -> IngressStream:
        return GeminiStream(self._call, include_thoughts=self._include_thoughts, sse=self._sse)


class GeminiIngress(Ingress):
    name = "gemini"

    def conversation(
        self,
        payload: dict[str, Any],
        call: IngressCall,
        *,
        stream: bool | None = None,
        sse: bool = True,
    ) -> Conversation:
        return GeminiConversation(payload, call, stream=bool(stream), sse=sse)

    def error(self, error: GatewayError) -> tuple[int, bytes]:
        return to_google_error(error)
