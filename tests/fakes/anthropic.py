"""A fake Anthropic Messages API on real HTTP, for tests.

    with FakeAnthropic(client_keys={"sk-client"}) as fake:
        fake.enqueue(text_reply("Hello there"))
        ...point the gateway's providers.anthropic at fake.base_url, key fake.api_key...
        assert fake.requests[-1].json["model"] == "claude-sonnet-4-5"

What it checks, in the API's order and words:
  1. the key: `x-api-key` must be the configured upstream key (401 authentication_error),
     and no client key may arrive anywhere: not as `x-api-key`, not as `authorization`, not
     inside any other header (`client_keys`; a leak answers 401 and is kept in `leaks`);
  2. `anthropic-version` is present (400);
  3. the body validates against the `anthropic` package's published request TypedDicts,
     unknown keys refused at every depth (anthropic_schema); the beta types when the request
     has `?beta=true` or an `anthropic-beta` header;
  4. the model is a `claude-*` name (404 not_found_error);
  5. Anthropic's own rules: every thinking block's signature is one this fake issued (an
     HMAC of its text, base64 like the real ones); with thinking on, the assistant turn
     of an unfinished tool loop starts with a thinking block; with it off, no
     `clear_thinking_*` context edit; no text block is empty or whitespace only.
Then it answers the next scripted reply: a Message (JSON, or the real SSE event sequence
`event: …`/`data: …`, optionally written in odd-sized pieces, paused inside an event or cut
off), an error body with its status and headers, or an `event: error` mid-stream.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
from collections import deque
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from .anthropic_schema import request_problem
from .server import BackgroundServer, ServedFake

DEFAULT_API_KEY = "sk-ant-fake-upstream-key"
DEFAULT_TEXT = "Hello from the fake Anthropic."
SNAPSHOT_SUFFIX = "-20250929"  # the API answers with the dated snapshot of an undated name
_SIGNING_KEY = b"fake-anthropic-signing-key"


# --- what the fake can be told to answer -----------------------------------------------------


@dataclass(frozen=True)
class Cut:
    """Close the connection after `after_events` events (and half of the next, if
    `mid_event`), without finishing the HTTP body."""

    after_events: int
    mid_event: bool = False


@dataclass(frozen=True)
class Pause:
    """Write half of event `event`, sleep `seconds`, then the rest."""

    event: int
    seconds: float


@dataclass(frozen=True)
class MessageReply:
    content: tuple[dict[str, Any], ...]
    stop_reason: str = "end_turn"
    stop_sequence: str | None = None  # which one matched, with stop_reason "stop_sequence"
    input_tokens: int = 21
    output_tokens: int = 9
    cache_read_input_tokens: int = 0
    # Streaming only:
    chunk_bytes: int | None = None  # write the stream in pieces of this size
    cut: Cut | None = None
    pause: Pause | None = None
    error_after_events: int | None = None  # an `event: error` (overloaded) after N events


@dataclass(frozen=True)
class ErrorReply:
    status: int
    error_type: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()


Reply = MessageReply | ErrorReply


def sign(thinking: str) -> str:
    """The signature this fake issues for a thinking text (and verifies when it comes back)."""
    digest = hmac.new(_SIGNING_KEY, thinking.encode(), hashlib.sha256).digest()
    return base64.b64encode(b"\x12\x08fake" + digest).decode()


def text_reply(text: str = DEFAULT_TEXT, **options: Any) -> MessageReply:
    return MessageReply(content=({"type": "text", "text": text},), **options)


def tool_use_reply(
    name: str, tool_input: dict[str, Any], *, tool_id: str = "toolu_01FakeToolUse", **options: Any
) -> MessageReply:
    block = {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}
    return MessageReply(content=(block,), stop_reason="tool_use", **options)


def thinking_reply(thinking: str, text: str, **options: Any) -> MessageReply:
    blocks = (
        {"type": "thinking", "thinking": thinking, "signature": sign(thinking)},
        {"type": "text", "text": text},
    )
    return MessageReply(content=blocks, **options)


def error_reply(
    status: int, error_type: str, message: str, *, retry_after: str | None = None
) -> ErrorReply:
    headers = (("retry-after", retry_after),) if retry_after is not None else ()
    return ErrorReply(status, error_type, message, headers)


def invalid_request(message: str) -> ErrorReply:
    return error_reply(400, "invalid_request_error", message)


def authentication_error() -> ErrorReply:
    return error_reply(401, "authentication_error", "invalid x-api-key")


def rate_limited(retry_after: str = "7") -> ErrorReply:
    return error_reply(
        429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit",
        retry_after=retry_after,
    )  # fmt: skip


def api_error() -> ErrorReply:
    return error_reply(500, "api_error", "Internal server error")


def overloaded() -> ErrorReply:
    return error_reply(529, "overloaded_error", "Overloaded")


# --- the fake ---------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any = None
    status: int | None = None
    sent: bytearray = field(default_factory=bytearray)  # the response body bytes written

    @property
    def endpoint(self) -> Literal["messages", "count_tokens"]:
        return "count_tokens" if self.path.endswith("/count_tokens") else "messages"


Scripted = Reply | Callable[[RecordedRequest], Reply]


@dataclass
class _Live:
    closing: asyncio.Event = field(default_factory=asyncio.Event)


class FakeAnthropic(ServedFake):
    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        client_keys: Collection[str] = (),
        default_reply: Reply | None = None,
    ) -> None:
        """`client_keys`: keys the gateway's clients use, which must never reach upstream."""
        self.api_key = api_key
        self.client_keys = frozenset(client_keys)
        self.default_reply: Reply = default_reply or text_reply()
        self.requests: list[RecordedRequest] = []
        self.leaks: list[str] = []  # header names a client key arrived in
        self._script: deque[Scripted] = deque()
        self._count_script: deque[Scripted | int] = deque()
        self._number = 0
        self._live: _Live | None = None
        app = web.Application()
        app.router.add_post("/v1/messages", self._handle)
        app.router.add_post("/v1/messages/count_tokens", self._handle)
        app.on_startup.append(self._on_startup)
        self._server = BackgroundServer(app, name="fake-anthropic")
        self._server.on_stop.append(self._on_stop)

    def enqueue(self, *replies: Scripted) -> None:
        """Answers for the next /v1/messages calls, in order (a callable gets the request)."""
        self._script.extend(replies)

    def enqueue_count_tokens(self, *replies: Scripted | int) -> None:
        """Answers for the next count_tokens calls: a token count, or a reply (errors)."""
        self._count_script.extend(replies)

    @property
    def pending(self) -> int:
        return len(self._script) + len(self._count_script)

    def reset(self) -> None:
        self._script.clear()
        self._count_script.clear()
        self.requests.clear()
        self.leaks.clear()

    # --- handling -----------------------------------------------------------------------------

    async def _on_startup(self, app: web.Application) -> None:
        self._live = _Live()

    async def _on_stop(self) -> None:
        if self._live is not None:
            self._live.closing.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.read(),
        )
        self.requests.append(recorded)
        rejection = self._check(recorded)
        if rejection is not None:
            return self._send_error(recorded, rejection)
        if recorded.endpoint == "count_tokens":
            scripted_count = self._count_script.popleft() if self._count_script else None
            if scripted_count is None or isinstance(scripted_count, int):
                tokens = scripted_count if scripted_count is not None else _count(recorded.json)
                return _json_response(recorded, 200, {"input_tokens": tokens})
            reply = scripted_count(recorded) if callable(scripted_count) else scripted_count
        else:
            scripted = self._script.popleft() if self._script else self.default_reply
            reply = scripted(recorded) if callable(scripted) else scripted
        if isinstance(reply, ErrorReply):
            return self._send_error(recorded, reply)
        message = self._message(recorded, reply)
        if recorded.json.get("stream") is True:
            return await self._send_stream(request, recorded, reply, message)
        return _json_response(recorded, 200, message)

    def _check(self, recorded: RecordedRequest) -> ErrorReply | None:
        for name, value in recorded.headers.items():
            if any(key in value for key in self.client_keys):
                self.leaks.append(name)
        if self.leaks:
            return error_reply(401, "authentication_error", f"client key leaked in {self.leaks}")
        if "authorization" in recorded.headers:
            return error_reply(401, "authentication_error", "unexpected authorization header")
        key = recorded.headers.get("x-api-key")
        if key is None:
            return error_reply(401, "authentication_error", "x-api-key header is required")
        if key != self.api_key:
            return authentication_error()
        if not recorded.headers.get("anthropic-version"):
            return invalid_request("anthropic-version: header is required")
        try:
            recorded.json = json.loads(recorded.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return invalid_request("There was an issue with your request body: invalid JSON")
        # Beta fields are taken on `?beta=true` (Claude Code) or with an anthropic-beta header.
        beta = recorded.query.get("beta") == "true" or "anthropic-beta" in recorded.headers
        problem = request_problem(recorded.json, recorded.endpoint, beta=beta)
        if problem is not None:
            return invalid_request(problem)
        model = recorded.json["model"]
        if not model.startswith("claude-"):
            return error_reply(404, "not_found_error", f"model: {model}")
        return _rules_problem(recorded.json)

    def _message(self, recorded: RecordedRequest, reply: MessageReply) -> dict[str, Any]:
        self._number += 1
        model = recorded.json["model"]
        if not model[-8:].isdigit():
            model += SNAPSHOT_SUFFIX
        return {
            "id": f"msg_fake{self._number:06d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": list(reply.content),
            "stop_reason": reply.stop_reason,
            "stop_sequence": reply.stop_sequence,
            "usage": {
                "input_tokens": reply.input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": reply.cache_read_input_tokens,
                "output_tokens": reply.output_tokens,
                "service_tier": "standard",
            },
        }

    def _send_error(self, recorded: RecordedRequest, reply: ErrorReply) -> web.Response:
        body = {
            "type": "error",
            "error": {"type": reply.error_type, "message": reply.message},
            "request_id": f"req_fake{len(self.requests):06d}",
        }
        return _json_response(recorded, reply.status, body, dict(reply.headers))

    async def _send_stream(
        self,
        request: web.Request,
        recorded: RecordedRequest,
        reply: MessageReply,
        message: dict[str, Any],
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200,
            headers={
                "content-type": "text/event-stream; charset=utf-8",
                "cache-control": "no-cache",
                "request-id": f"req_fake{len(self.requests):06d}",
            },
        )
        recorded.status = 200
        await response.prepare(request)

        async def write(data: bytes) -> None:
            recorded.sent += data
            await response.write(data)

        frames = list(stream_frames(message))
        if reply.error_after_events is not None:
            overloaded_event = {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "Overloaded"},
            }
            frames = [*frames[: reply.error_after_events], _frame("error", overloaded_event)]
        for index, frame in enumerate(frames):
            if reply.cut is not None and index == reply.cut.after_events:
                if reply.cut.mid_event:
                    await write(frame[: len(frame) // 2])
                _abort(request)
                return response
            if reply.pause is not None and index == reply.pause.event:
                await write(frame[: len(frame) // 2])
                await self._sleep(reply.pause.seconds)
                frame = frame[len(frame) // 2 :]
            if reply.chunk_bytes:
                for piece in _pieces(frame, reply.chunk_bytes):
                    await write(piece)
                    await asyncio.sleep(0)
            else:
                await write(frame)
        if reply.cut is not None and reply.cut.after_events >= len(frames):
            _abort(request)
            return response
        await response.write_eof()
        return response

    async def _sleep(self, seconds: float) -> None:
        assert self._live is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._live.closing.wait(), timeout=seconds)


# --- the wire format ---------------------------------------------------------------------------


def _frame(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def stream_frames(message: dict[str, Any]) -> Iterator[bytes]:
    """A Message as Anthropic streams it, frame by frame (a ping after the first block starts,
    text and thinking in several deltas, tool input as JSON fragments)."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**usage, "output_tokens": 1}
    yield _frame("message_start", {"type": "message_start", "message": start})
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        empty = {"text": {"text": ""}, "thinking": {"thinking": "", "signature": ""}}.get(kind)
        opening = {**block, **empty} if empty is not None else {**block, "input": {}}
        yield _frame(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": opening},
        )
        if index == 0:
            yield b'event: ping\ndata: {"type": "ping"}\n\n'
        for delta in _deltas(block):
            yield _frame(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
        yield _frame("content_block_stop", {"type": "content_block_stop", "index": index})
    yield _frame(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": message["stop_reason"],
                "stop_sequence": message.get("stop_sequence"),
            },
            "usage": {"output_tokens": usage["output_tokens"]},
        },
    )
    yield _frame("message_stop", {"type": "message_stop"})


def _deltas(block: dict[str, Any]) -> Iterator[dict[str, Any]]:
    kind = block["type"]
    if kind == "text":
        for piece in _halves(block["text"]):
            yield {"type": "text_delta", "text": piece}
    elif kind == "thinking":
        for piece in _halves(block["thinking"]):
            yield {"type": "thinking_delta", "thinking": piece}
        yield {"type": "signature_delta", "signature": block["signature"]}
    elif kind == "tool_use":
        yield {"type": "input_json_delta", "partial_json": ""}
        for piece in _halves(json.dumps(block["input"])):
            yield {"type": "input_json_delta", "partial_json": piece}


def _halves(text: str) -> list[str]:
    middle = len(text) // 2
    return [piece for piece in (text[:middle], text[middle:]) if piece]


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _json_response(
    recorded: RecordedRequest,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> web.Response:
    recorded.status = status
    recorded.sent += json.dumps(body).encode()
    return web.Response(
        status=status,
        body=bytes(recorded.sent),
        headers={"content-type": "application/json", **(headers or {})},
    )


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


def _count(body: dict[str, Any]) -> int:
    """A deterministic stand-in for Anthropic's tokenizer: one token per 4 bytes of prompt."""
    prompt = [body.get("system"), body["messages"], body.get("tools")]
    return max(1, len(json.dumps(prompt)) // 4)


# --- Anthropic's rules beyond the schema --------------------------------------------------------


def _rules_problem(body: dict[str, Any]) -> ErrorReply | None:
    messages = body["messages"]
    for m, message in enumerate(messages):
        content = message["content"]
        if isinstance(content, str):
            continue
        for b, block in enumerate(content):
            if block["type"] == "thinking" and block["signature"] != sign(block["thinking"]):
                return invalid_request(
                    f"messages.{m}.content.{b}: Invalid `signature` in `thinking` block"
                )
            if block["type"] == "text" and not block["text"].strip():
                # The API's words, which name no index (seen in Claude Code's bug reports).
                return invalid_request(
                    "messages: text content blocks must contain non-whitespace text"
                    if block["text"]
                    else "messages: text content blocks must be non-empty"
                )
    thinking = body.get("thinking")
    if thinking is None or thinking.get("type") == "disabled":
        edits = (body.get("context_management") or {}).get("edits") or ()
        for edit in edits:
            if edit["type"].startswith("clear_thinking"):
                return invalid_request(
                    f"`{edit['type']}` strategy requires `thinking` to be enabled"
                )
        return None
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None or isinstance(messages[last]["content"], str):
        return None
    content = messages[last]["content"]
    in_tool_loop = any(block["type"] == "tool_use" for block in content)
    if in_tool_loop and (
        not content or content[0]["type"] not in ("thinking", "redacted_thinking")
    ):
        found = content[0]["type"] if content else "nothing"
        return invalid_request(
            f"messages.{last}.content.0.type: Expected `thinking` or `redacted_thinking`, but "
            f"found `{found}`. When `thinking` is enabled, a final `assistant` message must "
            "start with a thinking block (preceeding the lastmost set of `tool_use` and "
            "`tool_result` blocks). We recommend you include thinking blocks from previous "
            "turns. To avoid this requirement, disable `thinking`."
        )
    return None
