"""The providers this build can serve: one line each, the one list everything else derives from.

The config's `providers.<name>` tables, the secret sources' provider names, the start-up line's
upstreams and the gateway's providers all come from `REGISTRY`. Adding a provider is a folder
under `providers/` plus a line here.

Nothing is imported at module level (not even `ai_proxy.config`, which reads the names from
here): a provider's module is imported when a gateway is built, not by `import ai_proxy`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import ProvidersConfig
    from .base import Provider


@dataclass(frozen=True, slots=True)
class Registration:
    name: str  # the `providers.<name>` table, the routing prefix, the secret's field
    provider_class: str  # in ai_proxy.providers.<name>
    base_url: str  # the default of providers.<name>.base_url
    takes_key: bool = True  # False: reached only with the platform's identity (no secret)


REGISTRY = (
    # We append /v1beta/models/...
    Registration("gemini", "GeminiProvider", "https://generativelanguage.googleapis.com"),
    # As the OpenAI SDK takes it: we append /chat/completions.
    Registration("openai", "OpenAIProvider", "https://api.openai.com/v1"),
    Registration("anthropic", "AnthropicProvider", "https://api.anthropic.com"),
    # The clouds' model services (ai_proxy.identity): their URLs come from the region,
    # location or resource (config.CloudProviderConfig).
    Registration("bedrock", "BedrockProvider", ""),
    Registration("vertex", "VertexProvider", "", takes_key=False),
    Registration("azure_openai", "AzureOpenAIProvider", ""),
)
PROVIDER_NAMES = tuple(registration.name for registration in REGISTRY)
# The providers a secret may hold a key for.
KEYED_PROVIDER_NAMES = tuple(r.name for r in REGISTRY if r.takes_key)


def build_providers(config: ProvidersConfig) -> dict[str, Provider]:
    providers: dict[str, Provider] = {}
    for registration in REGISTRY:
        module = importlib.import_module(f"{__package__}.{registration.name}")
        provider_class: type[Provider] = getattr(module, registration.provider_class)
        providers[registration.name] = provider_class(config.get(registration.name))
    return providers
