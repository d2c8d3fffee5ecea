"""Azure Key Vault: one secret per provider, named `<provider>-api-key` unless configured
(and the limit store's URL, `redis-url`, when there).

azure-keyvault-secrets and azure-identity (extra `ai-proxy[azure]`) are imported on first use.
Authentication: a managed identity (user-assigned when `azure_client_id` is set), else
DefaultAzureCredential (managed identity, workload identity, environment, Azure CLI).
"""

from __future__ import annotations

import logging
from typing import Any

from ..config import ConfigError, SecretsConfig
from ..providers.registry import KEYED_PROVIDER_NAMES
from .base import REDIS_URL, Keys, SecretSource, check_keys

log = logging.getLogger("ai_proxy.secrets")


class AzureSecretSource(SecretSource):
    def __init__(
        self, config: SecretsConfig, credential: Any = None, **client_options: Any
    ) -> None:
        """`credential` and `client_options` (SecretClient keyword arguments) are for tests."""
        super().__init__(config.refresh_seconds)
        assert config.azure_vault_url is not None  # SecretsConfig checks it for source "azure"
        self._vault_url = config.azure_vault_url
        # Explicitly named secrets must all exist; of the default names, those present count.
        self._required = bool(config.azure_secrets)
        self._names = config.azure_secrets or {
            # Key Vault names allow no "_": azure_openai's key is azure-openai-api-key.
            **{name: f"{name.replace('_', '-')}-api-key" for name in KEYED_PROVIDER_NAMES},
            REDIS_URL: "redis-url",
        }
        self._client_id = config.azure_client_id
        self._credential = credential
        self._client_options = client_options
        self._client: Any = None
        self.description = f"Azure Key Vault {self._vault_url}"

    def fetch(self) -> Keys:
        from azure.core.exceptions import (
            AzureError,
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
        )

        client = self._secretclient()
        values: dict[str, object] = {}
        for provider, name in self._names.items():
            shown = f"secret '{name}' in {self.description}"
            try:
                values[provider] = client.get_secret(name).value or ""
            except ResourceNotFoundError:
                if self._required:
                    raise ConfigError(f"{shown} does not exist") from None
                log.debug("no %s; %s is not configured from Key Vault", shown, provider)
            except ClientAuthenticationError as exc:
                raise ConfigError(
                    f"cannot authenticate to {self.description} ({type(exc).__name__}): "
                    "is a managed identity assigned?"
                ) from None
            except HttpResponseError as exc:
                if exc.status_code == 403:
                    raise ConfigError(
                        f"access denied reading {shown}: the identity needs the "
                        "'Key Vault Secrets User' role (or a get-secret access policy)"
                    ) from None
                raise ConfigError(f"cannot read {shown}: HTTP {exc.status_code}") from None
            except AzureError as exc:
                raise ConfigError(f"cannot read {shown}: {type(exc).__name__}") from None
        if not values:
            names = ", ".join(self._names.values())
            raise ConfigError(f"{self.description} holds none of the secrets {names}")
        return check_keys(values, self.description)

    def _secretclient(self) -> Any:
        if self._client is None:
            from azure.keyvault.secrets import SecretClient

            credential = self._credential
            if credential is None:
                from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

                credential = (
                    ManagedIdentityCredential(client_id=self._client_id)
                    if self._client_id
                    else DefaultAzureCredential()
                )
            self._client = SecretClient(self._vault_url, credential, **self._client_options)
        return self._client
