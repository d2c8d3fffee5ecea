"""The endpoints behind the route table (ai_proxy.routes), and what the routed ones share.

Each endpoint is called with the plain request and its record and answers a CoreResponse (or
raises a GatewayError, which the gateway turns into the error response).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from ..anthropic.envelope import ClientRequest
from ..errors import ProviderNotConfigured
from ..observability import RequestRecord
from ..plain import CoreRequest, CoreResponse
from ..providers.base import Provider, RequestContext
from ..routing import Target
from ..upstream import Upstream


class Endpoint(Protocol):
    async def __call__(self, request: CoreRequest, record: RequestRecord) -> CoreResponse: ...


# Client headers providers may see; each provider picks what it forwards upstream.
FORWARD_HEADERS = ("anthropic-version", "anthropic-beta")


@dataclass(slots=True)
class Attempt:
    """What one try of one target is given: its provider, upstream, key and context."""

    provider: Provider
    upstream: Upstream
    api_key: str
    context: RequestContext


class Targets:
    """A routing target -> the provider serving it, with the key it is called with."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        upstreams: Mapping[str, Upstream],
        api_keys: Callable[[], Mapping[str, str]],
    ) -> None:
        self._providers = providers
        self._upstreams = upstreams
        # Read per attempt: a secret refresh replaces the keys while requests are served.
        self._api_keys = api_keys

    def attempt(
        self, client: ClientRequest, request: CoreRequest, target: Target, record: RequestRecord
    ) -> Attempt:
        client_model = client.model
        provider = self._providers[target.provider]
        api_key = self._api_keys().get(target.provider)
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
            client_request=client,
        )
        return Attempt(provider, self._upstreams[target.provider], api_key, context)
