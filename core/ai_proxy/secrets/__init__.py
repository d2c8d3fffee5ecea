"""Secret sources: where the provider API keys come from.

    SecretSource            base: TTL cache, last good keys kept when a refresh fails
    ├── EnvSecretSource     config file / AI_PROXY_PROVIDERS__<NAME>__API_KEY (default)
    ├── AwsSecretSource     one JSON secret in AWS Secrets Manager
    ├── GcpSecretSource     one JSON secret, or one secret per provider, in GCP Secret Manager
    └── AzureSecretSource   one secret per provider in Azure Key Vault

Each cloud module imports its SDK on first use and is itself imported only when configured, so
`import ai_proxy` never pulls boto3, google-cloud or azure.
"""

from __future__ import annotations

from typing import assert_never

from ..config import Config
from .base import REDIS_URL, Keys, SecretSource, check_keys, keys_from_json

__all__ = [
    "REDIS_URL",
    "Keys",
    "SecretSource",
    "check_keys",
    "keys_from_json",
    "secret_source_from_config",
]


def secret_source_from_config(config: Config) -> SecretSource:
    """The source `secrets.source` names; cheap (no SDK import, no I/O until `load`)."""
    settings = config.secrets
    match settings.source:
        case "env":
            from .env import EnvSecretSource

            return EnvSecretSource(config.providers)
        case "aws":
            from .aws import AwsSecretSource

            return AwsSecretSource(settings)
        case "gcp":
            from .gcp import GcpSecretSource

            return GcpSecretSource(settings)
        case "azure":
            from .azure import AzureSecretSource

            return AzureSecretSource(settings)
        case _:
            assert_never(settings.source)
