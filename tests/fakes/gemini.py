"""A fake Gemini (generativelanguage v1beta REST) on real HTTP, for tests.

    with FakeGemini() as fake:
        fake.enqueue(text_answer("Hello there, friend", chunks=3))
        ...point the gateway at fake.base_url with api key fake.api_key...
        assert fake.requests[-1].json["contents"][0]["role"] == "user"

What it checks, in Google's order and words (see gemini_errors, gemini_schema, gemini_rules):
  1. the key: `x-goog-api-key` only. No key is 403 PERMISSION_DENIED, a wrong one 400
     API_KEY_INVALID. A `key=` query parameter is refused even when right: keys in URLs end
     up in access logs, so the gateway must never send one.
  2. the body parses as the v1beta request proto (unknown fields, wrong types, oneofs);
  3. the model exists (404 NOT_FOUND otherwise);
  4. Gemini's own rules (roles, empty texts, function call/response turns, stop sequences,
     thinking budgets, Gemini 3 thought signatures).
Then it answers the next scripted reply (or `default_reply`), streamed as SSE for
`:streamGenerateContent?alt=sse` and merged for `:generateContent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import struct
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import gemini_errors as errors
from .gemini_render import (
    JSON_ARRAY_END,
    RenderContext,
    count_tokens,
    json_array_piece,
    merged_response,
    sse_event,
    stream_chunks,
)
from .gemini_replies import (
    Answer,
    Cut,
    Hang,
    HttpReply,
    Reply,
    StreamError,
    Timing,
    Usage,
    answer,
    bad_gateway_html,
    blocked_prompt,
    error_reply,
    fake_signature,
    function_call,
    grounded_answer,
    internal_error,
    invalid_argument,
    invalid_json,
    malformed_function_call_answer,
    max_tokens_answer,
    mid_stream_error,
    model_not_found,
    overloaded,
    rate_limited,
    recitation_answer,
    safety_answer,
    split_words,
    text,
    text_answer,
    thought,
    tool_call_answer,
    wrong_content_type,
)
from .gemini_rules import request_problem
from .gemini_schema import COUNT_TOKENS_REQUEST, GENERATE_CONTENT_REQUEST, schema_violations
from .server import BackgroundServer, ServedFake

DEFAULT_API_KEY = "test-gemini-key"
DEFAULT_TEXT = "Hello from the fake Gemini."
ACTIONS = ("generateContent", "streamGenerateContent", "countTokens")
KNOWN_MODEL = re.compile(r"(gemini|gemma|learnlm)-[A-Za-z0-9.\-]+")
_COMMON_HEADERS = {
    "Vary": "Origin, X-Origin, Referer",
    "Server": "scaffolding on HTTPServer2",
    "X-XSS-Protection": "0",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
}


@dataclass
class RecordedRequest:
    """One request as the fake received it; `status` is what the fake answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    model: str
    action: str
    json: Any = None
    status: int | None = None
    chunks_sent: int = 0  # stream events fully written
    client_gone: bool = False  # the gateway closed the connection before the stream ended

    @property
    def streaming(self) -> bool:
        return self.action == "streamGenerateContent"


Scripted = Reply | Callable[[RecordedRequest], Reply]


@dataclass
class _Live:
    """Loop-side state, made inside the server's loop at startup."""

    closing: asyncio.Event
    hangs: set[asyncio.Event] = field(default_factory=set)


class FakeGemini(ServedFake):
    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        models: Collection[str] | None = None,
        default_reply: Reply | None = None,
    ) -> None:
        """`models`: names it serves; by default any `gemini-*`, `gemma-*` or `learnlm-*`."""
        self.api_key = api_key
        self.models = frozenset(models) if models is not None else None
        self.default_reply: Reply = default_reply or text_answer(DEFAULT_TEXT)
        self.requests: list[RecordedRequest] = []
        self._script: deque[Scripted] = deque()
        self._count_script: deque[Scripted] = deque()
        self._response_number = 0
        self._live: _Live | None = None
        app = web.Application()
        app.router.add_post("/v1beta/models/{tail}", self._handle)
        app.on_startup.append(self._on_startup)
        self._server = BackgroundServer(app, name="fake-gemini")
        self._server.on_stop.append(self._on_stop)

    # --- script --------------------------------------------------------------------------------

    def enqueue(self, *replies: Scripted) -> None:
        """Answers for the next generateContent / streamGenerateContent calls, in order.

        A callable is called with the RecordedRequest and returns the reply.
        """
        self._script.extend(replies)

    def enqueue_count_tokens(self, *replies: Scripted) -> None:
        """Replace the computed countTokens answer for the next calls (errors, hangs...)."""
        self._count_script.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not yet used: a test can assert it consumed all of them."""
        return len(self._script) + len(self._count_script)

    def reset(self) -> None:
        self._script.clear()
        self._count_script.clear()
        self.requests.clear()

    # --- request handling -------------------------------------------------------------------

    async def _on_startup(self, app: web.Application) -> None:
        self._live = _Live(closing=asyncio.Event())

    async def _on_stop(self) -> None:
        if self._live is not None:
            self._live.closing.set()
            for hang in self._live.hangs:
                hang.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        model, _, action = request.match_info["tail"].rpartition(":")
        body = await request.read()
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            model=model,
            action=action,
        )
        self.requests.append(recorded)
        rejection = self._check(request, recorded)
        if rejection is not None:
            return await self._send_http(request, recorded, rejection)
        if action == "countTokens":
            return await self._count_tokens(request, recorded)
        scripted = self._script.popleft() if self._script else self.default_reply
        reply = scripted(recorded) if callable(scripted) else scripted
        if isinstance(reply, HttpReply):
            return await self._send_http(request, recorded, reply)
        if isinstance(reply, Hang):
            return await self._hang(request, recorded, reply)
        if recorded.streaming:
            return await self._send_stream(request, recorded, reply)
        return await self._send_merged(request, recorded, reply)

    def _check(self, request: web.Request, recorded: RecordedRequest) -> HttpReply | None:
        if not recorded.model or recorded.action not in ACTIONS:
            return _google(errors.error_body(404, "Method not found."))
        key = request.headers.get("x-goog-api-key")
        if "key" in request.query:
            return _google(errors.api_key_invalid())
        if key is None:
            return _google(errors.permission_denied())
        if key != self.api_key:
            return _google(errors.api_key_invalid())
        try:
            recorded.json = json.loads(recorded.body) if recorded.body.strip() else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _google(
                errors.bad_request([(None, "Invalid JSON payload received. Unexpected token.")])
            )
        descriptor = (
            COUNT_TOKENS_REQUEST if recorded.action == "countTokens" else GENERATE_CONTENT_REQUEST
        )
        violations = schema_violations(recorded.json, descriptor)
        if violations:
            return _google(errors.bad_request(violations))
        if not self._serves(recorded.model):
            return _google(errors.model_not_found(recorded.model, recorded.action))
        problem = request_problem(recorded.json, recorded.model, recorded.action)
        if problem is not None:
            return _google(errors.invalid_argument(problem))
        return None

    def _serves(self, model: str) -> bool:
        if self.models is not None:
            return model in self.models
        return KNOWN_MODEL.fullmatch(model) is not None

    async def _count_tokens(
        self, request: web.Request, recorded: RecordedRequest
    ) -> web.StreamResponse:
        if self._count_script:
            scripted = self._count_script.popleft()
            reply = scripted(recorded) if callable(scripted) else scripted
            if isinstance(reply, Hang):
                return await self._hang(request, recorded, reply)
            if isinstance(reply, HttpReply):
                return await self._send_http(request, recorded, reply)
        total = count_tokens(recorded.json)
        body = {
            "totalTokens": total,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}],
        }
        return await self._send_http(request, recorded, HttpReply(200, errors.encode(body)))

    # --- answers ----------------------------------------------------------------------------

    def _context(self, recorded: RecordedRequest) -> RenderContext:
        self._response_number += 1
        return RenderContext(
            model=recorded.model,
            response_id=f"fake-{self._response_number:06d}",
            prompt_tokens=count_tokens(recorded.json),
        )

    async def _send_http(
        self, request: web.Request, recorded: RecordedRequest, reply: HttpReply
    ) -> web.StreamResponse:
        if not await self._pause(reply.timing.before_headers):
            return _dropped(request)
        recorded.status = reply.status
        headers = {**_COMMON_HEADERS, "Content-Type": reply.content_type, **dict(reply.headers)}
        return web.Response(status=reply.status, body=reply.body, headers=headers)

    async def _send_merged(
        self, request: web.Request, recorded: RecordedRequest, reply: Answer
    ) -> web.StreamResponse:
        if reply.stream_error is not None:
            status = int(reply.stream_error.body["error"]["code"])
            error_reply = HttpReply(status, errors.encode(reply.stream_error.body))
            return await self._send_http(request, recorded, error_reply)
        timing = reply.timing
        generation = timing.before_first_chunk + timing.between_chunks * max(
            0, len(reply.chunks) - 1
        )
        if not await self._pause(timing.before_headers + generation):
            return _dropped(request)
        body = errors.encode(merged_response(reply, self._context(recorded)))
        recorded.status = 200
        if reply.cut is None:
            headers = {**_COMMON_HEADERS, "Content-Type": errors.JSON_CONTENT_TYPE}
            return web.Response(status=200, body=body, headers=headers)
        headers = {**_COMMON_HEADERS, "Content-Type": errors.JSON_CONTENT_TYPE}
        response = web.StreamResponse(status=200, headers=headers)
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        _cut(request, reply.cut)
        return response

    async def _send_stream(
        self, request: web.Request, recorded: RecordedRequest, reply: Answer
    ) -> web.StreamResponse:
        sse = request.query.get("alt") == "sse"
        timing, cut = reply.timing, reply.cut
        if not await self._pause(timing.before_headers):
            return _dropped(request)
        chunks = stream_chunks(reply, self._context(recorded))
        headers = {**_COMMON_HEADERS, "Content-Type": errors.JSON_CONTENT_TYPE}
        if sse:
            headers.update(
                {"Content-Type": "text/event-stream", "Content-Disposition": "attachment"}
            )
        response = web.StreamResponse(status=200, headers=headers)
        recorded.status = 200
        await response.prepare(request)
        for i, chunk in enumerate(chunks):
            delay = timing.before_first_chunk if i == 0 else timing.between_chunks
            if not await self._pause(delay):
                return _dropped(request)
            if reply.stream_error is not None and i == reply.stream_error.after_chunks:
                chunk = reply.stream_error.body
                await response.write(sse_event(chunk) if sse else json_array_piece(chunk, i == 0))
                break
            event = sse_event(chunk) if sse else json_array_piece(chunk, i == 0)
            if cut is not None and i == cut.after_chunks:
                if cut.mid_event:
                    await response.write(event[: len(event) // 2])
                _cut(request, cut)
                return response
            if _client_gone(request):
                recorded.client_gone = True
                return response
            try:
                await response.write(event)
            except ConnectionError:
                recorded.client_gone = True
                return response
            recorded.chunks_sent = i + 1
        if cut is not None and cut.after_chunks >= len(chunks):
            _cut(request, cut)  # every event arrived, but the HTTP body never ended
            return response
        if not sse:
            await response.write(JSON_ARRAY_END)
        await response.write_eof()
        return response

    async def _hang(
        self, request: web.Request, recorded: RecordedRequest, reply: Hang
    ) -> web.StreamResponse:
        live = self._require_live()
        release = asyncio.Event()
        live.hangs.add(release)
        try:
            if reply.send_headers:
                kind = "text/event-stream" if recorded.streaming else errors.JSON_CONTENT_TYPE
                headers = {**_COMMON_HEADERS, "Content-Type": kind}
                response = web.StreamResponse(status=200, headers=headers)
                recorded.status = 200
                await response.prepare(request)
            while not release.is_set() and not _client_gone(request):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(release.wait(), timeout=0.02)
        finally:
            live.hangs.discard(release)
        return _dropped(request)

    async def _pause(self, seconds: float) -> bool:
        """Sleep, unless the server stops first (then False): slow answers never hold stop()."""
        live = self._require_live()
        if seconds <= 0:
            return not live.closing.is_set()
        try:
            await asyncio.wait_for(live.closing.wait(), timeout=seconds)
        except TimeoutError:
            return True
        return False

    def _require_live(self) -> _Live:
        if self._live is None:
            raise RuntimeError("FakeGemini handled a request before startup")
        return self._live


def _google(body: dict[str, Any]) -> HttpReply:
    return HttpReply(int(body["error"]["code"]), errors.encode(body))


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _cut(request: web.Request, cut: Cut) -> None:
    transport = request.transport
    if transport is None:
        return
    if cut.reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0 turns close() into an RST, as when a middlebox kills the connection.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()


def _dropped(request: web.Request) -> web.StreamResponse:
    """Close the connection without an answer (the fake is stopping or the client left)."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500)


__all__ = [  # the fake and everything a test needs to script it, from one import
    "DEFAULT_API_KEY",
    "Answer",
    "Cut",
    "FakeGemini",
    "Hang",
    "HttpReply",
    "RecordedRequest",
    "Reply",
    "Scripted",
    "StreamError",
    "Timing",
    "Usage",
    "answer",
    "bad_gateway_html",
    "blocked_prompt",
    "error_reply",
    "fake_signature",
    "function_call",
    "grounded_answer",
    "internal_error",
    "invalid_argument",
    "invalid_json",
    "malformed_function_call_answer",
    "max_tokens_answer",
    "mid_stream_error",
    "model_not_found",
    "overloaded",
    "rate_limited",
    "recitation_answer",
    "safety_answer",
    "split_words",
    "text",
    "text_answer",
    "thought",
    "tool_call_answer",
    "wrong_content_type",
]
