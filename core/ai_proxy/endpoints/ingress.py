"""The other client formats' routes: one translation onto the Messages path, and back.

An ingress (ai_proxy.ingress) turns the client's request into an Anthropic Messages request;
the Messages endpoint serves it exactly as it serves /v1/messages (limits were checked by the
route's access, then fallbacks, retries, every upstream, logs, metrics); the answer is turned
back here. A stream is translated event by event, as the Anthropic frames leave the relay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import orjson

from .. import routes
from ..anthropic.envelope import ClientRequest, decode_json_object
from ..errors import InvalidRequest
from ..ingress.base import Conversation, Ingress, IngressCall, IngressStream
from ..ingress.gemini.count import count_tokens_answer, count_tokens_request
from ..logs import log_body
from ..observability import RequestRecord
from ..plain import SSE_HEADERS, CoreRequest, CoreResponse, json_response
from ..sse import SSEDecoder
from ..streams import StreamBody
from .count_tokens import CountTokensEndpoint
from .messages import MessagesEndpoint

log = logging.getLogger("ai_proxy.ingress")


class IngressEndpoint:
    """POST /v1/chat/completions and /v1/responses, each through its format's ingress."""

    def __init__(self, ingress: Ingress, messages: MessagesEndpoint, *, log_bodies: bool) -> None:
        self._ingress = ingress
        self._messages = messages
        self._log_bodies = log_bodies

    async def __call__(self, request: CoreRequest, record: RequestRecord) -> CoreResponse:
        if self._log_bodies:
            log_body("request body", request.body)
        conversation = self._conversation(request, record)
        payload = conversation.messages_request
        parsed = ClientRequest(orjson.dumps(payload), payload)
        answer = await self._messages.serve(parsed, request, record)
        if isinstance(answer, bytes):
            return json_response(conversation.answer(orjson.loads(answer)))
        headers = [(b"content-type", conversation.stream_content_type), *SSE_HEADERS[1:]]
        return CoreResponse(200, headers, translated(answer, conversation.stream()))

    def _conversation(self, request: CoreRequest, record: RequestRecord) -> Conversation:
        payload = decode_json_object(request.body)
        model = payload.get("model")
        if not isinstance(model, str) or not model:
            raise InvalidRequest("model: Field required (a non-empty string)")
        call = IngressCall(model, record.request_id, int(time.time()))
        return self._ingress.conversation(payload, call)


class GeminiEndpoint(IngressEndpoint):
    """POST /v1beta/models/{model}:generateContent and :streamGenerateContent, where the path
    names the model and whether to stream, and `?alt=sse` how."""

    def _conversation(self, request: CoreRequest, record: RequestRecord) -> Conversation:
        model, method = routes.gemini_call(request.path)
        payload = decode_json_object(request.body)
        call = IngressCall(_checked_model(model), record.request_id, int(time.time()))
        stream = method == "streamGenerateContent"
        sse = ("alt", "sse") in parse_qsl(request.query)
        return self._ingress.conversation(payload, call, stream=stream, sse=sse)


class GeminiCountTokensEndpoint:
    """POST /v1beta/models/{model}:countTokens, counted as /v1/messages/count_tokens counts."""

    def __init__(self, counter: CountTokensEndpoint) -> None:
        self._counter = counter

    async def __call__(self, request: CoreRequest, record: RequestRecord) -> CoreResponse:
        model = _checked_model(routes.gemini_call(request.path)[0])
        payload = count_tokens_request(decode_json_object(request.body), model)
        parsed = ClientRequest(orjson.dumps(payload), payload)
        tokens = await self._counter.count(parsed, request, record)
        return json_response(count_tokens_answer(tokens))


def _checked_model(model: str) -> str:
    if not model or "/" in model:
        raise InvalidRequest(f"path: expected /v1beta/models/{{model}}:method, got model {model!r}")
    return model


def translated(anthropic: StreamBody, stream: IngressStream) -> StreamBody:
    """`anthropic`'s events in the client's format, each upstream read's events sent together
    as soon as they arrive; closing the result closes `anthropic` (its slot, its report)."""
    return StreamBody(_frames(anthropic, stream)).on_close(anthropic.aclose)


async def _frames(anthropic: StreamBody, stream: IngressStream) -> AsyncIterator[bytes]:
    decoder = SSEDecoder()
    try:
        async for chunk in anthropic:
            frames = b"".join([stream.feed(_payload(event.data)) for event in decoder.feed(chunk)])
            if frames:
                yield frames
    except Exception:
        # A translation bug: the client gets an error event in its format, never a cut stream.
        log.exception("stream could not be translated for the %s client", type(stream).__name__)
        yield stream.feed(_UNTRANSLATABLE)
    frames = stream.finish()
    if frames:
        yield frames


def _payload(data: str) -> dict[str, Any]:
    payload: dict[str, Any] = orjson.loads(data)
    return payload


_UNTRANSLATABLE = {
    "type": "error",
    "error": {"type": "api_error", "message": "the answer could not be translated"},
}
