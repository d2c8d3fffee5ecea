"""OpenAI models deployed on Azure (Azure OpenAI / Foundry), behind the Anthropic Messages API.

The wire format is OpenAI's Chat Completions, so the request and stream translation are the
OpenAI provider's, unchanged; only the call differs: the resource's URL and the deployment
(request.py), the credential (an `api-key`, or an Entra ID token from the platform's managed
identity: ai_proxy.identity.azure) and Azure's own error answers (errors.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ...config import AzureOpenAIConfig, ConfigError, ProviderConfig
from ...errors import GatewayError, ProviderNotConfigured
from ...identity.azure import AzureIdentity
from ..base import RequestContext, UpstreamRequest
from ..openai import OpenAIProvider
from .errors import from_azure_openai_error
from .request import AzureEndpoint


class AzureOpenAIProvider(OpenAIProvider):
    name = "azure_openai"
    key_setting = "providers.azure_openai.api_key"
    identity_setting = "providers.azure_openai.enabled"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        assert isinstance(config, AzureOpenAIConfig)
        self.azure = config
        if (config.enabled or config.api_key) and not self.base_url:
            raise ConfigError(
                "providers.azure_openai.resource (or base_url) must be set to call Azure OpenAI"
            )
        self.endpoint = AzureEndpoint(self.base_url, config.api_version, config.deployments)
        if config.enabled and not config.api_key:
            self.identity = AzureIdentity(self.name, config.client_id)

    @property
    def base_url(self) -> str:
        if self.azure.base_url:
            return self.azure.base_url
        if self.azure.resource:
            return f"https://{self.azure.resource}.openai.azure.com"
        return ""

    def chat_request(
        self, body: dict[str, Any], context: RequestContext, api_key: str, stream: bool
    ) -> UpstreamRequest:
        if not self.base_url:
            # A key from a secret source, with no resource to send it to.
            raise ProviderNotConfigured(
                "azure_openai has a key but no resource: set providers.azure_openai.resource"
            )
        deployment = self.endpoint.deployment_for(context.upstream_model)
        headers = {
            "content-type": "application/json",
            # Azure logs this id with the request, so support can find it from ours.
            "x-ms-client-request-id": context.request_id,
        }
        if api_key:
            headers["api-key"] = api_key
        # Without a key, the identity adds `authorization: Bearer <token>` (endpoints.Attempt).
        return UpstreamRequest(
            url=self.endpoint.chat_completions_url(deployment),
            headers=headers,
            body=orjson.dumps(self.endpoint.to_azure_body(body, deployment)),
            stream=stream,
        )

    def error_from_response(
        self, status: int, headers: Mapping[str, str], body: bytes
    ) -> GatewayError:
        shown = self.azure.resource or self.base_url
        return from_azure_openai_error(status, headers, body, shown)
