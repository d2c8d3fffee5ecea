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

import orjson

from ..anthropic.envelope import ClientRequest, decode_json_object
from ..errors import InvalidRequest
from ..ingress.base import Conversation, Ingress, IngressCall, IngressStream
from ..logs import log_body
from ..observability import RequestRecord
from ..plain import SSE_HEADERS, CoreRequest, CoreResponse, json_response
from ..sse import SSEDecoder
from ..streams import StreamBody
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
        return CoreResponse(200, list(SSE_HEADERS), translated(answer, conversation.stream()))

    def _conversation(self, request: CoreRequest, record: RequestRecord) -> Conversation:
        payload = decode_json_object(request.body)
        model = payload.get("model")
        if not isinstance(model, str) or not model:
            raise InvalidRequest("model: Field required (a non-empty string)")
        call = IngressCall(model, record.request_id, int(time.time()))
        return self._ingress.conversation(payload, call)


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
