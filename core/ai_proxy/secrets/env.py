"""The default source: keys from the config file or AI_PROXY_PROVIDERS__<NAME>__API_KEY.

Also what Cloud Run's `--set-secrets` and Azure's Key Vault references in app settings feed,
since both inject the secret as an environment variable.
"""

from __future__ import annotations

from ..config import ProvidersConfig
from ..providers.registry import KEYED_PROVIDER_NAMES
from .base import Keys, SecretSource


class EnvSecretSource(SecretSource):
    description = "the config file and AI_PROXY_PROVIDERS__<NAME>__API_KEY"
    static = True

    def __init__(self, providers: ProvidersConfig) -> None:
        super().__init__(refresh_seconds=0)
        self._providers = providers

    def fetch(self) -> Keys:
        return {
            name: key for name in KEYED_PROVIDER_NAMES if (key := self._providers.get(name).api_key)
        }
