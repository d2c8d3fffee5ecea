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
from ..providers.base import Provider, RequestContext, UpstreamRequest
from ..routing import Target
from ..upstream import Upstream


class Endpoint(Protocol):
    async def __call__(self, request: CoreRequest, record: RequestRecord) -> CoreResponse: ...


# Client headers providers may see; each provider picks what it forwards upstream.
FORWARD_HEADERS = ("anthropic-version", "anthropic-beta")


@dataclass(slots=True)
class Attempt:
    """What one try of one target is given: its provider, upstream, key and context.

    `api_key` is "" when the provider's platform identity authorizes the call instead: the
    request it builds is then signed here, with the identity's current credentials."""

    provider: Provider
    upstream: Upstream
    api_key: str
    context: RequestContext

    def request(self, client: ClientRequest) -> UpstreamRequest:
        return self._authorized(self.provider.build_request(client, self.context, self.api_key))

    def count_tokens_request(self, client: ClientRequest) -> UpstreamRequest | None:
        built = self.provider.build_count_tokens_request(client, self.context, self.api_key)
        return None if built is None else self._authorized(built)

    def _authorized(self, request: UpstreamRequest) -> UpstreamRequest:
        identity = self.provider.identity
        if not self.api_key and identity is not None:
            identity.authorize(request)
        return request


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
            if provider.identity is None:
                raise ProviderNotConfigured(not_configured(client_model, provider))
            api_key = ""
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


def not_configured(client_model: str, provider: Provider) -> str:
    """What to set so that `provider` can serve: its key, or its platform identity."""
    if provider.identity_setting is None:
        assert provider.key_setting is not None
        return (
            f"model '{client_model}' routes to {provider.name}, which has no API key: set "
            f"{provider.key_setting} in the config file or {_env(provider.key_setting)}"
        )
    ways = f"{provider.identity_setting} = true ({_env(provider.identity_setting)}=true)"
    if provider.key_setting is not None:
        ways += f", or an API key in {provider.key_setting} ({_env(provider.key_setting)})"
    return f"model '{client_model}' routes to {provider.name}, which is not enabled: set {ways}"


def _env(setting: str) -> str:
    return "AI_PROXY_" + setting.upper().replace(".", "__")
