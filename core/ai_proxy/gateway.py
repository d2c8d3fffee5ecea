"""The framework-free centre: a plain request in, a status, headers and a body out.

Every entry point (the local server, each cloud adapter) wraps `Gateway.handle`. The body is
either bytes or an async iterator of SSE frames relayed as upstream produces them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from . import model_list, openapi, probes
from .anthropic.accumulate import accumulate
from .anthropic.envelope import ClientRequest
from .auth import ClientAuth, ClientKey
from .config import PROVIDER_NAMES, Config
from .errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    Overloaded,
    ProviderNotConfigured,
    RateLimited,
    RequestTooLarge,
    UpstreamError,
)
from .limits import ConcurrencyCap, RateLimiter, TokenBucketLimiter
from .logs import AccessLog, log_body, log_startup, redact_bytes, register_secrets
from .observability import REQUEST_ID, Observer, RequestRecord, request_id_from_headers
from .providers.base import Provider, RequestContext, StreamTranslator
from .providers.blocks import Event
from .providers.registry import build_providers
from .relay import relay_stream
from .retry import RetryPolicy
from .routing import Router, Target
from .secrets import SecretSource, secret_source_from_config
from .streams import StreamBody
from .upstream import UpstreamClient, check_content_type, failure_from_response

if TYPE_CHECKING:
    from .metrics import PrometheusMetrics

Headers = list[tuple[bytes, bytes]]
JSON_HEADERS: Headers = [(b"content-type", b"application/json")]
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    # Tells nginx-style proxies not to buffer the stream.
    (b"x-accel-buffering", b"no"),
]
# Client headers providers may see; each provider picks what it forwards upstream.
FORWARD_HEADERS = ("anthropic-version", "anthropic-beta")

# Answered before a RequestRecord exists: probes and scrapes are neither logged nor counted.
INTERNAL_PATHS = probes.PATHS | {"/metrics"}
# Served without a client key; every other path needs one (so a new route is never open).
PUBLIC_PATHS = frozenset({"/", "", "/openapi.json"})

log = logging.getLogger("ai_proxy.gateway")


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
        routing = config.routing
        self.router = Router(routing.aliases, self.providers, routing.discovery_prefix)
        self.clients = {
            name: UpstreamClient(name, config.providers.get(name)) for name in self.providers
        }
        self._api_keys: dict[str, str] = {
            name: key
            for name in PROVIDER_NAMES
            if (key := config.providers.get(name).api_key) is not None
        }
        self._config_keys = dict(self._api_keys)
        # Cheap: no cloud SDK is imported and nothing is read until load_secrets().
        self.secrets: SecretSource = secret_source_from_config(config)
        self.secrets_loaded = config.secrets.source == "env"
        # SIGTERM received: /health/ready says 503 while requests are still served.
        self.draining = False
        self.observers: list[Observer] = [AccessLog()]
        self.prometheus: PrometheusMetrics | None = None
        if config.metrics.prometheus:
            from .metrics import PrometheusMetrics  # not imported by serverless entries

            self.prometheus = PrometheusMetrics(config)
            self.observers.append(self.prometheus)
        self._log_bodies = config.log.log_bodies
        register_secrets(self._api_keys.values())
        self.auth = ClientAuth.from_config(config.auth)
        if config.secrets.source == "env":
            # Hook: a secret source that supplies client keys calls set_client_keys() and
            # runs this check after load_secrets() instead.
            self.auth.check_configured()
        if self.auth.disabled:
            log.warning(
                "client authentication is disabled (auth.disabled = true): anyone who can "
                "reach this server can spend its provider keys"
            )
        limits = config.limits
        self.rate_limiter: RateLimiter | None = None
        if limits.requests_per_minute or any(k.requests_per_minute for k in self.auth.keys):
            self.rate_limiter = TokenBucketLimiter(burst=limits.burst)
        self.upstream_cap = ConcurrencyCap(limits.max_concurrent_upstream)
        self.retry_policy = RetryPolicy(config.retries)

    def set_client_keys(self, keys: list[ClientKey]) -> None:
        """Install client keys (e.g. from a secret source); replaces the whole set atomically."""
        self.auth.set_keys(keys)

    def set_api_keys(self, keys: Mapping[str, str]) -> None:
        """Install keys from a secret source (replaces the whole set atomically)."""
        self._api_keys = {name: key for name, key in keys.items() if key}
        register_secrets(self._api_keys.values())

    def load_secrets(self) -> None:
        """Cold start: read the secret source (blocking); ConfigError names an unusable secret.

        Keys from the secret override those in the config; the config's fill the gaps."""
        self.set_api_keys({**self._config_keys, **self.secrets.load()})
        self.auth.check_configured()
        self.secrets_loaded = True

    def refresh_secrets_if_due(self) -> None:
        """Lazy refresh (blocking) for platforms that freeze between requests, e.g. Lambda."""
        if self.secrets_loaded and self.secrets.expired:
            if not self.secrets.refresh():
                self.secret_refresh_failed(self.config.secrets.source)
            self.set_api_keys({**self._config_keys, **self.secrets.keys})

    async def refresh_secrets_forever(self) -> None:
        """Background refresh, run as a task by the ASGI lifespan; cancelled at shutdown."""
        await self.secrets.refresh_forever(
            lambda keys: self.set_api_keys({**self._config_keys, **keys}),
            failed=lambda: self.secret_refresh_failed(self.config.secrets.source),
        )

    @property
    def configured_providers(self) -> list[str]:
        return [name for name in self.providers if name in self._api_keys]

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()
        if self.prometheus is not None:
            self.prometheus.close()

    def log_startup(self) -> None:
        if self.prometheus is None:
            metrics = "off"
        else:
            metrics = "prometheus-multiprocess" if self.prometheus.multiprocess else "prometheus"
        log_startup(self.config, self.configured_providers, metrics)

    async def handle(self, request: CoreRequest) -> CoreResponse:
        """Serve one request; its record is reported now, or when a streamed body ends."""
        if request.path in INTERNAL_PATHS:
            return await self._internal(request)
        record = RequestRecord(
            request_id=request_id_from_headers(request.headers),
            method=request.method,
            path=request.path,
            started=time.perf_counter(),
        )
        # Never reset: the rest of this task (and tasks it starts) serves this request.
        REQUEST_ID.set(record.request_id)
        record.in_flight = True
        for observer in self.observers:
            observer.request_started(record)
        try:
            response = await self._dispatch(request, record)
        except GatewayError as error:
            response = self.error_response(error, record)
        except Exception:
            # A bug, not an upstream failure: log it with the trace, tell the client nothing more.
            log.exception("unhandled error serving %s %s", request.method, request.path)
            internal = UpstreamError("internal gateway error", status=500)
            response = self.error_response(internal, record)
        except BaseException:  # cancelled: the client or the server went away
            record.status = record.status or 499
            self.finish(record)
            raise
        response.headers.append((b"request-id", record.request_id.encode()))
        if self.draining:
            # Keep-alive clients reconnect, and so find an instance that is not going away.
            response.headers.append((b"connection", b"close"))
        if record.provider is not None:
            # Which fallback target served: for the client's own debugging and for support.
            served_by = f"{record.provider}/{record.upstream_model}".encode()
            response.headers.append((b"x-ai-proxy-served-by", served_by))
        response.record = record
        if isinstance(response.body, bytes):
            self.finish(record)
        else:
            record.streaming = True
            for observer in self.observers:
                observer.stream_started(record)
        return response

    def finish(self, record: RequestRecord) -> None:
        """Report a request to the observers, once (later calls do nothing).

        Whoever consumes a streamed body calls this after closing it (the ASGI app does), in
        case the body was never iterated and so never reported itself.
        """
        if record.reported:
            return
        record.reported = True
        if record.finished is None:
            record.finished = time.perf_counter()
        for observer in self.observers:
            try:
                observer.request_finished(record)
            except Exception:
                log.exception("observer %s failed", type(observer).__name__)

    def start_draining(self) -> None:
        """Shutdown begins: readiness fails from now on; requests are still served."""
        if not self.draining:
            self.draining = True
            logging.getLogger("ai_proxy.lifecycle").info("draining")

    def secret_refresh_failed(self, source: str) -> None:
        """The secret source could not be re-read (the last good keys stay in use)."""
        for observer in self.observers:
            observer.secret_refresh_failed(source)

    async def _internal(self, request: CoreRequest) -> CoreResponse:
        error: GatewayError | None = None
        if request.method not in ("GET", "HEAD"):
            error = InvalidRequest(f"{request.path} accepts GET, not {request.method}", status=405)
        elif request.path == "/metrics" and self.prometheus is None:
            error = NotFound("metrics are off (metrics.prometheus = false)")
        if error is not None:
            return CoreResponse(error.status, list(JSON_HEADERS), error.json_body())
        if request.path == "/metrics":
            assert self.prometheus is not None
            if self.prometheus.multiprocess:
                # Reads every worker's files: keep the loop free meanwhile.
                body, content_type = await asyncio.to_thread(self.prometheus.render)
            else:
                body, content_type = self.prometheus.render()
            return CoreResponse(200, [(b"content-type", content_type.encode())], body)
        status, body = probes.probe(
            request.path,
            draining=self.draining,
            secrets_loaded=self.secrets_loaded,
            providers=self.configured_providers,
        )
        headers = [*JSON_HEADERS, (b"cache-control", b"no-store")]
        return CoreResponse(status, headers, body)

    async def _dispatch(self, request: CoreRequest, record: RequestRecord) -> CoreResponse:
        path = request.path
        if path not in PUBLIC_PATHS:
            await self._admit(request, record)
        # The ASGI app stops reading early; this covers entries that hand over a whole body.
        limit = self.config.server.max_body_bytes
        if len(request.body) > limit:
            raise RequestTooLarge(
                f"request body is {len(request.body)} bytes; the limit is {limit} "
                "(server.max_body_bytes)"
            )
        if path == "/v1/messages":
            _require_method(request, "POST")
            return await self.messages(request, record)
        if path == "/openapi.json":
            _require_method(request, "GET")
            record.status = 200
            return CoreResponse(200, list(JSON_HEADERS), openapi.openapi_json())
        if path == "/v1/messages/count_tokens":
            _require_method(request, "POST")
            return await self.count_tokens(request, record)
        if path == "/v1/models" or path.startswith("/v1/models/"):
            _require_method(request, "GET")
            return self.models(request, record)
        if path in ("/", ""):
            # Claude Code probes the base URL with HEAD / before its first request.
            record.status = 200
            return CoreResponse(200, list(JSON_HEADERS), b'{"status":"ok"}')
        raise NotFound(f"no route for {request.method} {path}")

    async def _admit(self, request: CoreRequest, record: RequestRecord) -> None:
        """Client key, then its rate: one hash and two dict lookups (ai_proxy.auth, .limits)."""
        key = self.auth.authenticate(request.headers)
        record.client_name = key.name
        if self.rate_limiter is None:
            return
        rate = self.config.limits.requests_per_minute
        if key.requests_per_minute is not None:
            rate = key.requests_per_minute
        if rate:
            wait = await self.rate_limiter.acquire(key.name, rate)
            if wait:
                raise RateLimited(
                    f"client key '{key.name}' is over its limit of {rate} requests per minute",
                    retry_after=str(max(1, math.ceil(wait))),
                    retryable=False,
                )

    def error_response(self, error: GatewayError, record: RequestRecord) -> CoreResponse:
        record.status = error.status
        record.error_type = error.error_type
        record.error_message = error.message
        # Upstream messages may quote what they were sent: no key leaves in an error body.
        body = redact_bytes(error.json_body())
        return CoreResponse(error.status, [*JSON_HEADERS, *error.headers()], body)

    async def messages(self, request: CoreRequest, record: RequestRecord) -> CoreResponse:
        if self._log_bodies:
            log_body("request body", request.body)
        parsed = ClientRequest.from_body(request.body, request.query)
        record.client_model = parsed.model
        record.stream = parsed.stream
        cap = self.upstream_cap
        if not cap.try_acquire():
            raise Overloaded(
                f"this instance has {cap.limit} upstream requests in flight "
                "(limits.max_concurrent_upstream); retry shortly",
                retryable=False,
            )
        try:
            response = await self._with_fallbacks(
                parsed.model, record, lambda target: self._serve(parsed, request, target, record)
            )
        except BaseException:
            cap.release()
            raise
        if isinstance(response.body, bytes):
            cap.release()
        else:
            # The stream keeps its slot until it is closed (see ai_proxy.streams).
            body = response.body
            response.body = (body if isinstance(body, StreamBody) else StreamBody(body)).on_close(
                cap.release
            )
        return response

    async def _with_fallbacks(
        self,
        model: str,
        record: RequestRecord,
        attempt_target: Callable[[Target], Awaitable[CoreResponse]],
    ) -> CoreResponse:
        """Try each target in turn while failures are retryable (nothing went to the client).

        A transient failure (ai_proxy.retry) is first retried on the same target, after a
        jittered backoff, within the retry budget. All of this happens before the response
        starts: once a stream is returned, a failure can only be an SSE error event.
        """
        targets = self.router.resolve(model)
        policy = self.retry_policy
        for index, target in enumerate(targets):
            record.fallbacks = index
            retries = 0
            while True:
                try:
                    return await attempt_target(target)
                except GatewayError as error:
                    elapsed = time.perf_counter() - record.started
                    delay = policy.delay(error, retries, elapsed)
                    if delay is None:
                        if not error.retryable or index == len(targets) - 1:
                            raise
                        log.info(
                            "falling back from %s after %s: %s", target, error.status, error.message
                        )
                        break
                    retries += 1
                    record.retries += 1
                    log.info(
                        "retrying %s in %.2fs after %s (retry %d of %d): %s",
                        target,
                        delay,
                        error.status,
                        retries,
                        policy.config.max_retries,
                        error.message,
                    )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last target returns or raises")

    def _target(
        self, client_model: str, request: CoreRequest, target: Target, record: RequestRecord
    ) -> tuple[Provider, str, RequestContext]:
        """The provider serving `target`, its key, and what it may know of the client request."""
        provider = self.providers[target.provider]
        api_key = self._api_keys.get(target.provider)
        if api_key is None:
            env = "AI_PROXY_" + provider.key_setting.upper().replace(".", "__")
            raise ProviderNotConfigured(
                f"model '{client_model}' routes to {target.provider}, which has no API key: "
                f"set {provider.key_setting} in the config file or {env}"
            )
        record.provider, record.upstream_model = target.provider, target.model
        context = RequestContext(
            client_model=client_model,
            upstream_model=target.model,
            request_id=record.request_id,
            forward_headers={
                name: value
                for name in FORWARD_HEADERS
                if (value := request.headers.get(name)) is not None
            },
            client_body=request.body,
        )
        return provider, api_key, context

    async def _serve(
        self, request: ClientRequest, core: CoreRequest, target: Target, record: RequestRecord
    ) -> CoreResponse:
        provider, api_key, context = self._target(request.model, core, target, record)
        context.client_request = request
        upstream_request = provider.build_request(request, context, api_key)
        client = self.clients[target.provider]
        translator = provider.new_translator(context)
        exits = AsyncExitStack()
        record.upstream_started = time.perf_counter()
        try:
            response = await exits.enter_async_context(client.post(upstream_request))
            if response.status != 200:
                body = await response.read()
                record.upstream_finished = time.perf_counter()
                raise failure_from_response(provider, response, body)
            check_content_type(client.name, response, upstream_request.stream)
            if not request.stream:
                body = await response.read()
                record.upstream_finished = time.perf_counter()
                # Closed here, not left to the garbage collector: a dropped async generator is
                # finalized through call_soon_threadsafe, a task and a syscall per request.
                await exits.aclose()
                if translator.relays_raw:
                    return self._relayed_response(*translator.relay_body(body), record)
                return self._message_response(_translate_body(translator, body), record)
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Reading the body happens outside client.post's own handler: same mapping here.
            await exits.aclose()
            raise client.error_from_exception(exc) from None
        except BaseException:
            await exits.aclose()
            raise
        record.status = 200

        async def on_done() -> None:
            await exits.aclose()
            self.finish(record)

        ping_interval = self.config.server.ping_interval_seconds
        frames = relay_stream(response, client, translator, record, ping_interval, on_done)
        # exits.aclose is idempotent: the relay's own finally usually got there first.
        return CoreResponse(200, list(SSE_HEADERS), StreamBody(frames).on_close(exits.aclose))

    def _relayed_response(
        self, body: bytes, usage: dict[str, Any], record: RequestRecord
    ) -> CoreResponse:
        record.observe_usage(usage)
        record.status = 200
        if self._log_bodies:
            log_body("response body", body)
        return CoreResponse(200, list(JSON_HEADERS), body)

    async def count_tokens(self, request: CoreRequest, record: RequestRecord) -> CoreResponse:
        """POST /v1/messages/count_tokens: routed, with fallbacks, like /v1/messages."""
        parsed = ClientRequest.from_body(request.body, request.query)
        record.client_model = parsed.model
        return await self._with_fallbacks(
            parsed.model, record, lambda target: self._count(parsed, request, target, record)
        )

    async def _count(
        self,
        request: ClientRequest,
        core: CoreRequest,
        target: Target,
        record: RequestRecord,
    ) -> CoreResponse:
        provider, api_key, context = self._target(request.model, core, target, record)
        upstream_request = provider.build_count_tokens_request(request, context, api_key)
        if upstream_request is None:
            tokens = provider.count_tokens_locally(request, context)
        else:
            record.upstream_started = time.perf_counter()
            async with self.clients[target.provider].post(upstream_request) as response:
                body = await response.read()
                record.upstream_finished = time.perf_counter()
                if response.status != 200:
                    raise failure_from_response(provider, response, body)
            tokens = provider.parse_count_tokens(body)
        record.status = 200
        return CoreResponse(200, list(JSON_HEADERS), orjson.dumps({"input_tokens": tokens}))

    def models(self, request: CoreRequest, record: RequestRecord) -> CoreResponse:
        """GET /v1/models[/{id}]: aliases and the models of providers that have a key."""
        extra = {name: self.config.providers.get(name).models for name in self.providers}
        catalogue = model_list.entries(self.router, self.configured_providers, extra)
        model_id = request.path.removeprefix("/v1/models").removeprefix("/")
        if model_id:
            body = model_list.retrieve(catalogue, model_id, self.router)
        else:
            body = model_list.page(catalogue, request.query)
        record.status = 200
        return CoreResponse(200, list(JSON_HEADERS), orjson.dumps(body))

    def _message_response(self, events: list[Event], record: RequestRecord) -> CoreResponse:
        message = accumulate(events)
        record.observe_usage(message["usage"])
        record.status = 200
        body = orjson.dumps(message)
        if self._log_bodies:
            log_body("response body", body)
        return CoreResponse(200, list(JSON_HEADERS), body)


def _translate_body(translator: StreamTranslator, body: bytes) -> list[Event]:
    try:
        return translator.translate_body(body)
    except GatewayError:
        raise
    except Exception:
        log.exception("upstream body could not be translated")
        raise UpstreamError("upstream sent a reply we could not translate") from None


def _require_method(request: CoreRequest, method: str) -> None:
    if request.method != method:
        raise InvalidRequest(f"{request.path} accepts {method}, not {request.method}", status=405)
