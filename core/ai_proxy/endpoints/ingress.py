"""The other client formats' routes: one translation onto the Messages path, and back.

An ingress (ai_proxy.ingress) turns the client's request into an Anthropic Messages request;
the Messages endpoint serves it exactly as it serves /v1/messages (limits were checked by the
route's access, then fallbacks, retries, every upstream, logs, metrics); the answer is turned
back here. A stream is translated event by event, as the Anthropic frames leave the relay.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson

from .. import routes
from ..anthropic.envelope import ClientRequest, decode_json_object
from ..errors import InvalidRequest
from ..ingress.base import Conversation, Ingress, IngressCall, IngressStream
from ..ingress.gemini.count import count_tokens_answer, count_tokens_request
from ..ingress.openai_chat.shapes import as_str
from ..ingress.openai_responses import OpenAIResponsesIngress
from ..logs import log_body
from ..observability import RequestRecord
from ..plain import SSE_HEADERS, CoreRequest, CoreResponse, json_response
from ..response_store import ResponseStore
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
        return await self._answer(self._conversation(request, record), request, record)

    async def _answer(
        self, conversation: Conversation, request: CoreRequest, record: RequestRecord
    ) -> CoreResponse:
        """`conversation` served by the Messages path, answered in the client's format."""
        payload = conversation.messages_request
        parsed = ClientRequest(orjson.dumps(payload), payload)
        answer = await self._messages.serve(parsed, request, record)
        if isinstance(answer, bytes):
            return json_response(conversation.answer(orjson.loads(answer)))
        headers = [(b"content-type", conversation.stream_content_type), *SSE_HEADERS[1:]]
        return CoreResponse(200, headers, translated(answer, conversation.stream()))

    def _conversation(self, request: CoreRequest, record: RequestRecord) -> Conversation:
        payload = decode_json_object(request.body)
        return self._ingress.conversation(payload, _call(payload, record.request_id))


class ResponsesEndpoint(IngressEndpoint):
    """POST /v1/responses: the response `previous_response_id` names is read from the
    response store before translating, and the answered conversation kept there (unless
    `store: false`) before the client sees the answer end, so that the next request finds it.

    A response id is the request id and a random part: request ids may come from the client
    (x-request-id, a traceparent's trace id shared by a whole trace), and a kept response must
    never be overwritten by another request's."""

    def __init__(
        self,
        ingress: OpenAIResponsesIngress,
        messages: MessagesEndpoint,
        *,
        log_bodies: bool,
        stores: Callable[[], ResponseStore],
    ) -> None:
        super().__init__(ingress, messages, log_bodies=log_bodies)
        self._responses = ingress
        self._stores = stores

    async def __call__(self, request: CoreRequest, record: RequestRecord) -> CoreResponse:
        if self._log_bodies:
            log_body("request body", request.body)
        payload = decode_json_object(request.body)
        call = _call(payload, f"{record.request_id}_{secrets.token_hex(8)}")
        store = self._stores()
        client = record.client_name or ""  # set by admission: the route takes a key
        previous = payload.get("previous_response_id")
        history = None
        if previous is not None:
            history = await store.load(as_str(previous, "previous_response_id"), client)
        conversation = self._responses.conversation(payload, call, previous=history)
        response = await self._answer(conversation, request, record)
        if not conversation.store:
            return response

        async def keep() -> bool:
            continuation = conversation.continuation
            if continuation is None:
                return False
            await store.save(conversation.response_id, client, continuation)
            return True

        if isinstance(response.body, bytes):
            await keep()
        else:
            body = response.body
            assert isinstance(body, StreamBody)
            response.body = StreamBody(_kept_before_the_end(body, keep)).on_close(body.aclose)
        return response


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


def _call(payload: dict[str, Any], request_id: str) -> IngressCall:
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: Field required (a non-empty string)")
    return IngressCall(model, request_id, int(time.time()))


def _checked_model(model: str) -> str:
    # A model may hold slashes: `vertex/claude-sonnet-4-5@20250929` routes as on /v1/messages.
    if not model:
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


async def _kept_before_the_end(
    frames: StreamBody, keep: Callable[[], Awaitable[bool]]
) -> AsyncIterator[bytes]:
    """`frames`, the conversation kept (once `keep` finds it whole) before the frames that
    hold response.completed go out."""
    kept = False
    async for chunk in frames:
        if not kept:
            kept = await keep()
        yield chunk


def _payload(data: str) -> dict[str, Any]:
    payload: dict[str, Any] = orjson.loads(data)
    return payload


_UNTRANSLATABLE = {
    "type": "error",
    "error": {"type": "api_error", "message": "the answer could not be translated"},
}
