"""The framework-free centre: a plain request in (ai_proxy.plain), a status, headers, a body out.

Every entry point (the local server, each cloud adapter) wraps `Gateway.handle`. The gateway
is the envelope of a request: it wires the parts, keeps their lifecycle (secrets, draining),
gives each request its id and record, tells the observers, and turns a failure into an error
response. What a path does is the route table's (ai_proxy.routes) and its endpoint's
(ai_proxy.endpoints).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import routes
from .admission import Admission
from .config import Config
from .endpoints import Targets
from .endpoints.count_tokens import CountTokensEndpoint
from .endpoints.ingress import (
    GeminiCountTokensEndpoint,
    GeminiEndpoint,
    IngressEndpoint,
    ResponsesEndpoint,
)
from .endpoints.internal import InternalEndpoint
from .endpoints.messages import MessagesEndpoint
from .endpoints.models import ModelsEndpoint
from .endpoints.public import openapi, root
from .endpoints.usage import UsageEndpoint
from .errors import (
    GatewayError,
    InternalError,
    NotFound,
    RequestTooLarge,
)
from .fallback import Fallbacks
from .ingress.base import Ingress
from .ingress.gemini import GeminiIngress
from .ingress.openai_chat import OpenAIChatIngress
from .ingress.openai_responses import OpenAIResponsesIngress
from .limits import ConcurrencyCap
from .logs import AccessLog, log_startup, redact_bytes, register_secrets
from .observability import REQUEST_ID, Observer, RequestRecord, request_id_from_headers
from .plain import JSON_HEADERS
from .plain import CoreRequest as CoreRequest
from .plain import CoreResponse as CoreResponse
from .providers.base import Provider
from .providers.registry import build_providers
from .quota.policy import Quota, url_secrets
from .response_store import ResponseStores
from .retry import RetryPolicy
from .routing import Router
from .secrets import REDIS_URL, SecretSource, secret_source_from_config
from .upstream import Upstream, UpstreamClient

if TYPE_CHECKING:
    from .endpoints import Endpoint
    from .identity.base import Identity
    from .metrics import PrometheusMetrics
    from .tracing import OtelTracing

log = logging.getLogger("ai_proxy.gateway")


class Gateway:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.providers: dict[str, Provider] = build_providers(config.providers)
        routing = config.routing
        self.router = Router(routing.aliases, self.providers, routing.discovery_prefix)
        # Typed by the protocol: a test or a benchmark puts its own fake in.
        self.clients: dict[str, Upstream] = {
            name: UpstreamClient(name, config.providers.get(name)) for name in self.providers
        }
        self._api_keys: dict[str, str] = {
            name: key
            for name in self.providers
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
        self.tracing: OtelTracing | None = None
        if config.otel.enabled:
            from .tracing import OtelTracing  # extra `otel`: imported only when configured

            self.tracing = OtelTracing(config)
            self.observers.append(self.tracing)
        register_secrets(self._api_keys.values())
        register_secrets(url_secrets(config.limits.redis_url))
        # The store is built now, or (its URL in the secret) by load_secrets.
        self.quota = Quota(config, self.limit_store_failed)
        self.admission = Admission(config, self.quota)
        self.upstream_cap = ConcurrencyCap(config.limits.max_concurrent_upstream)
        fallbacks = Fallbacks(self.router, RetryPolicy(config.retries))
        targets = Targets(self.providers, self.clients, lambda: self._api_keys)
        extra = {name: config.providers.get(name).models for name in self.providers}
        messages = MessagesEndpoint(
            targets,
            fallbacks,
            self.upstream_cap,
            ping_interval=config.server.ping_interval_seconds,
            log_bodies=config.log.log_bodies,
            finish=self.finish,
        )
        chat, responses, gemini = OpenAIChatIngress(), OpenAIResponsesIngress(), GeminiIngress()
        self.ingresses: dict[routes.IngressName, Ingress] = {
            "openai_chat": chat,
            "openai_responses": responses,
            "gemini": gemini,
        }
        log_bodies = config.log.log_bodies
        count_tokens = CountTokensEndpoint(targets, fallbacks)
        self._endpoints: dict[routes.EndpointName, Endpoint] = {
            "messages": messages,
            "count_tokens": count_tokens,
            "openai_chat": IngressEndpoint(chat, messages, log_bodies=log_bodies),
            "openai_responses": ResponsesEndpoint(
                responses,
                messages,
                log_bodies=log_bodies,
                stores=ResponseStores(self.quota, config),
            ),
            "gemini": GeminiEndpoint(gemini, messages, log_bodies=log_bodies),
            "gemini_count_tokens": GeminiCountTokensEndpoint(count_tokens),
            "models": ModelsEndpoint(self.router, extra, lambda: self.configured_providers),
            "usage": UsageEndpoint(
                self.quota, lambda: [key.name for key in self.admission.auth.keys]
            ),
            "openapi": openapi,
            "root": root,
        }
        self._internal = InternalEndpoint(self)

    def set_api_keys(self, keys: Mapping[str, str]) -> None:
        """Install keys from a secret source (replaces the whole set atomically); the secret's
        redis_url is no provider key (it is read once, by load_secrets)."""
        self._api_keys = {name: key for name, key in keys.items() if key and name != REDIS_URL}
        register_secrets(self._api_keys.values())

    def load_secrets(self) -> None:
        """Cold start: read the secret source (blocking); ConfigError names an unusable secret.

        Keys from the secret override those in the config; the config's fill the gaps. The
        limit store is built now if its URL was to come from the secret."""
        loaded = self.secrets.load()
        redis_url = loaded.get(REDIS_URL)
        register_secrets(url_secrets(redis_url))
        self.quota.start(redis_url)
        self.set_api_keys({**self._config_keys, **loaded})
        self.admission.auth.check_configured()
        self.secrets_loaded = True
        self.load_identities()

    def load_identities(self) -> None:
        """Cold start (blocking): resolve the platform credentials of each cloud provider
        that is enabled and has no key. Done once; a failure is a log line (ai_proxy.identity)."""
        for identity in self._identities():
            if not identity.loaded:
                identity.load()

    @property
    def identities_unloaded(self) -> bool:
        return any(not identity.loaded for identity in self._identities())

    def _identities(self) -> list[Identity[Any]]:
        return [
            provider.identity
            for name, provider in self.providers.items()
            if provider.identity is not None and name not in self._api_keys
        ]

    @property
    def credentials_due(self) -> bool:
        """The secret or a platform credential wants refreshing (`refresh_secrets_if_due`)."""
        return self.secrets.expired or any(identity.due for identity in self._identities())

    def refresh_secrets_if_due(self) -> None:
        """Lazy refresh (blocking) for platforms that freeze between requests, e.g. Lambda;
        platform credentials near their expiry are refreshed with the secret."""
        if self.secrets_loaded and self.secrets.expired:
            if not self.secrets.refresh():
                self.secret_refresh_failed(self.config.secrets.source)
            self.set_api_keys({**self._config_keys, **self.secrets.keys})
        for identity in self._identities():
            identity.refresh_if_due()

    async def refresh_secrets_forever(self) -> None:
        """Background refresh of the secret and of the platform credentials, run as a task by
        the ASGI lifespan; cancelled at shutdown."""
        await asyncio.gather(
            self.secrets.refresh_forever(
                lambda keys: self.set_api_keys({**self._config_keys, **keys}),
                failed=lambda: self.secret_refresh_failed(self.config.secrets.source),
            ),
            *(identity.refresh_forever() for identity in self._identities()),
        )

    @property
    def configured_providers(self) -> list[str]:
        """Providers with a key, or with the platform's identity enabled."""
        return [
            name
            for name, provider in self.providers.items()
            if name in self._api_keys or provider.identity is not None
        ]

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()
        for identity in self._identities():
            await asyncio.to_thread(identity.close)
        await self.quota.close()
        if self.prometheus is not None:
            self.prometheus.close()
        if self.tracing is not None:
            # Spans still queued go out now: a serverless process may be frozen, not exited.
            self.tracing.close()

    def log_startup(self) -> None:
        if self.prometheus is None:
            metrics = "off"
        else:
            metrics = "prometheus-multiprocess" if self.prometheus.multiprocess else "prometheus"
        base_urls = {name: provider.base_url for name, provider in self.providers.items()}
        log_startup(self.config, self.configured_providers, base_urls, metrics)

    async def handle(self, request: CoreRequest, *, finish_json: bool = True) -> CoreResponse:
        """Serve one request; its record is reported now, or when a streamed body ends.

        `finish_json=False`: the caller awaits `finish(response.record)` itself once the JSON
        answer is sent (the ASGI app does), so the limit store's settle round trip is not
        spent before the client has its answer."""
        route = routes.find(request.path)
        if route is not None and route.access is routes.Access.INTERNAL:
            return await self._internal(route, request)
        record = RequestRecord(
            request_id=request_id_from_headers(request.headers),
            method=request.method,
            path=request.path,
            started=time.perf_counter(),
            traceparent=request.headers.get("traceparent"),
        )
        # Never reset: the rest of this task (and tasks it starts) serves this request.
        REQUEST_ID.set(record.request_id)
        record.in_flight = True
        for observer in self.observers:
            observer.request_started(record)
        try:
            response = await self._dispatch(route, request, record)
            record.status = response.status
        except GatewayError as error:
            response = self.error_response(error, record)
        except Exception:
            log.exception("unhandled error serving %s %s", request.method, request.path)
            response = self.error_response(InternalError(), record)
        except BaseException:  # cancelled: the client or the server went away
            record.status = record.status or 499
            await self.finish(record)
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
            if finish_json:
                await self.finish(record)
        else:
            record.streaming = True
            for observer in self.observers:
                observer.stream_started(record)
        return response

    async def finish(self, record: RequestRecord) -> None:
        """Settle a request with the limit store, then report it to the observers, once (later
        calls do nothing).

        Whoever consumes a streamed body calls this after closing it (the ASGI app does), in
        case the body was never iterated and so never reported itself. It may run in a task
        being cancelled (a client gone mid-stream): the settle is robust to that
        (Quota.settle), and the observers are told either way.
        """
        if record.reported:
            return
        record.reported = True
        if record.finished is None:
            record.finished = time.perf_counter()
        try:
            await self.quota.settle(record)
        finally:
            self._report(record)

    def _report(self, record: RequestRecord) -> None:
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

    def limit_store_failed(self, store: str) -> None:
        """A limit store call failed (ai_proxy.quota.policy decided what the request got)."""
        for observer in self.observers:
            observer.limit_store_failed(store)

    def error_response(self, error: GatewayError, record: RequestRecord) -> CoreResponse:
        """`error` as the client's format says errors are (its route's dialect)."""
        route = routes.find(record.path)
        if route is None or route.dialect == "anthropic":
            status, body = error.status, error.json_body()
        else:
            status, body = self.ingresses[route.dialect].error(error)
        record.status = status
        record.error_type = error.error_type
        record.error_message = error.message
        # Upstream messages may quote what they were sent: no key leaves in an error body.
        return CoreResponse(status, [*JSON_HEADERS, *error.headers()], redact_bytes(body))

    async def _dispatch(
        self, route: routes.Route | None, request: CoreRequest, record: RequestRecord
    ) -> CoreResponse:
        if routes.needs_key(route):
            await self.admission.admit(route, request, record)
        # The ASGI app stops reading early; this covers entries that hand over a whole body.
        limit = self.config.server.max_body_bytes
        if len(request.body) > limit:
            raise RequestTooLarge(
                f"request body is {len(request.body)} bytes; the limit is {limit} "
                "(server.max_body_bytes)"
            )
        if route is None:
            raise NotFound(f"no route for {request.method} {request.path}")
        routes.check_method(route, request.method, request.path)
        return await self._endpoints[route.endpoint](request, record)
