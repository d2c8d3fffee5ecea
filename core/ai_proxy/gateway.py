"""The framework-free centre: a plain request in, a status, headers and a body out.

Every entry point (the local server, each cloud adapter) wraps `Gateway.handle`. The body is
either bytes or an async iterator of SSE frames relayed as upstream produces them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import aiohttp
import orjson
from pydantic import ValidationError

from .anthropic.accumulate import accumulate
from .anthropic.models import MessagesRequest
from .anthropic.validation import describe_validation_error
from .config import PROVIDER_NAMES, Config
from .errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    ProviderNotConfigured,
    RequestTooLarge,
    UpstreamError,
)
from .observability import RequestRecord, new_request_id
from .providers.base import Provider, RequestContext, StreamTranslator
from .providers.blocks import Event
from .providers.registry import build_providers
from .routing import Router, Target
from .sse import PING, SSEDecoder, encode, encode_events
from .upstream import UpstreamClient

Headers = list[tuple[bytes, bytes]]
JSON_HEADERS: Headers = [(b"content-type", b"application/json")]
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    # Tells nginx-style proxies not to buffer the stream.
    (b"x-accel-buffering", b"no"),
]


@dataclass(slots=True)
class CoreRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""
    query: str = ""


@dataclass(slots=True)
class CoreResponse:
    status: int
    headers: Headers
    body: bytes | AsyncIterator[bytes]
    record: RequestRecord | None = field(default=None)


class Gateway:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.providers: dict[str, Provider] = build_providers(config.providers)
        self.router = Router(config.routing.aliases, self.providers)
        self.clients = {
            name: UpstreamClient(name, config.providers.get(name)) for name in self.providers
        }
        self._api_keys: dict[str, str] = {
            name: key
            for name in PROVIDER_NAMES
            if (key := config.providers.get(name).api_key) is not None
        }

    def set_api_keys(self, keys: Mapping[str, str]) -> None:
        """Install keys from a secret source (replaces the whole set atomically)."""
        self._api_keys = {name: key for name, key in keys.items() if key}

    @property
    def configured_providers(self) -> list[str]:
        return [name for name in self.providers if name in self._api_keys]

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()

    async def handle(self, request: CoreRequest) -> CoreResponse:
        record = RequestRecord(
            request_id=_request_id(request.headers),
            method=request.method,
            path=request.path,
            started=time.perf_counter(),
        )
        try:
            response = await self._dispatch(request, record)
        except GatewayError as error:
            response = self.error_response(error, record)
        response.headers.append((b"request-id", record.request_id.encode()))
        response.record = record
        return response

    async def _dispatch(self, request: CoreRequest, record: RequestRecord) -> CoreResponse:
        path = request.path
        if path == "/v1/messages":
            _require_method(request, "POST")
            return await self.messages(request, record)
        if path in ("/", ""):
            # Claude Code probes the base URL with HEAD / before its first request.
            record.status = 200
            return CoreResponse(200, list(JSON_HEADERS), b'{"status":"ok"}')
        raise NotFound(f"no route for {request.method} {path}")

    def error_response(self, error: GatewayError, record: RequestRecord) -> CoreResponse:
        record.status = error.status
        record.error_type = error.error_type
        return CoreResponse(error.status, [*JSON_HEADERS, *error.headers()], error.json_body())

    async def messages(self, request: CoreRequest, record: RequestRecord) -> CoreResponse:
        if len(request.body) > self.config.server.max_body_bytes:
            raise RequestTooLarge(
                f"request body is {len(request.body)} bytes; the limit is "
                f"{self.config.server.max_body_bytes} (server.max_body_bytes)"
            )
        parsed = _parse_messages_request(request.body)
        record.client_model = parsed.model
        record.stream = parsed.stream
        targets = self.router.resolve(parsed.model)
        last_error: GatewayError | None = None
        for attempt, target in enumerate(targets):
            record.fallbacks = attempt
            try:
                return await self._serve(parsed, target, record)
            except GatewayError as error:
                if not error.retryable or attempt == len(targets) - 1:
                    raise
                last_error = error
        assert last_error is not None  # the loop always returns or raises
        raise last_error

    async def _serve(
        self, request: MessagesRequest, target: Target, record: RequestRecord
    ) -> CoreResponse:
        provider = self.providers[target.provider]
        api_key = self._api_keys.get(target.provider)
        if api_key is None:
            env = "AI_PROXY_" + provider.key_setting.upper().replace(".", "__")
            raise ProviderNotConfigured(
                f"model '{request.model}' routes to {target.provider}, which has no API key: "
                f"set {provider.key_setting} in the config file or {env}"
            )
        record.provider, record.upstream_model = target.provider, target.model
        context = RequestContext(
            client_model=request.model, upstream_model=target.model, request_id=record.request_id
        )
        upstream_request = provider.build_request(request, context, api_key)
        client = self.clients[target.provider]
        translator = provider.new_translator(context)
        exits = AsyncExitStack()
        try:
            response = await exits.enter_async_context(client.post(upstream_request))
            if response.status != 200:
                body = await response.read()
                raise provider.error_from_response(response.status, response.headers, body)
            if not request.stream:
                body = await response.read()
                return self._message_response(translator.translate_body(body), record)
        except BaseException:
            await exits.aclose()
            raise
        record.status = 200
        return CoreResponse(
            200, list(SSE_HEADERS), self._relay(response, exits, client, translator, record)
        )

    def _message_response(self, events: list[Event], record: RequestRecord) -> CoreResponse:
        message = accumulate(events)
        record.observe_usage(message["usage"])
        record.status = 200
        return CoreResponse(200, list(JSON_HEADERS), orjson.dumps(message))

    async def _relay(
        self,
        response: aiohttp.ClientResponse,
        exits: AsyncExitStack,
        client: UpstreamClient,
        translator: StreamTranslator,
        record: RequestRecord,
    ) -> AsyncIterator[bytes]:
        """Upstream bytes -> SSE events -> translator -> our SSE frames, one chunk at a time."""
        decoder = SSEDecoder()
        ping_interval = self.config.server.ping_interval_seconds
        reader = response.content
        try:
            while True:
                try:
                    async with asyncio.timeout(ping_interval):
                        chunk = await reader.readany()
                except TimeoutError:
                    yield PING  # upstream is silent (thinking): keep proxies from timing out
                    continue
                if not chunk:
                    break
                events: list[Event] = []
                for event in decoder.feed(chunk):
                    events.extend(translator.feed(event))
                if events:
                    record.observe_events(events)
                    yield encode_events(events)
            if decoder.pending():
                raise UpstreamError(
                    f"{client.name} upstream stream ended in the middle of an event"
                )
            events = translator.finish()
            record.observe_events(events)
            yield encode_events(events)
        except GatewayError as error:
            yield self._stream_error(error, record)
        except aiohttp.ClientError as exc:
            yield self._stream_error(client.error_from_exception(exc), record)
        finally:
            await exits.aclose()
            record.finished = time.perf_counter()

    def _stream_error(self, error: GatewayError, record: RequestRecord) -> bytes:
        """After the 200 went out, an error can only be an SSE `error` event ending the stream."""
        record.error_type = error.error_type
        return encode("error", error.body())


def _parse_messages_request(body: bytes) -> MessagesRequest:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("request body must be a JSON object")
    try:
        return MessagesRequest.model_validate(payload)
    except ValidationError as exc:
        raise InvalidRequest(describe_validation_error(exc)) from None


def _require_method(request: CoreRequest, method: str) -> None:
    if request.method != method:
        raise InvalidRequest(f"{request.path} accepts {method}, not {request.method}", status=405)


def _request_id(headers: Mapping[str, str]) -> str:
    incoming = headers.get("x-request-id", "")
    if incoming and len(incoming) <= 128 and incoming.isprintable():
        return incoming
    return new_request_id()
