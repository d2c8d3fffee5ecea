"""GCP Secret Manager: one JSON secret of provider keys, or one secret per provider.

google-cloud-secret-manager (extra `ai-proxy[gcp]`) is imported on first use, over its REST
transport (lighter to import than gRPC, and no gRPC threads in a request-scoped container).
"""

from __future__ import annotations

from typing import Any

from ..config import ConfigError, SecretsConfig
from .base import Keys, SecretSource, check_keys, keys_from_json

# Generous for a cold start, short enough that a refresh never stalls for long.
CALL_TIMEOUT_SECONDS = 10.0


class GcpSecretSource(SecretSource):
    def __init__(self, config: SecretsConfig) -> None:
        super().__init__(config.refresh_seconds)
        self._project = config.gcp_project
        self._endpoint = config.gcp_endpoint
        self._json_secret: str | None = None
        self._per_provider: dict[str, str] = {}
        if config.gcp_secrets:
            self._per_provider = {
                provider: self._version_name(name) for provider, name in config.gcp_secrets.items()
            }
            names = ", ".join(_short(name) for name in self._per_provider.values())
            self.description = f"GCP Secret Manager secrets {names}"
        else:
            self._json_secret = self._version_name(config.gcp_secret)
            self.description = f"GCP Secret Manager secret '{_short(self._json_secret)}'"
        self._client: Any = None

    def fetch(self) -> Keys:
        if self._json_secret is not None:
            payload = self._access(self._json_secret)
            return keys_from_json(payload, self.description)
        values: dict[str, object] = {}
        for provider, name in self._per_provider.items():
            try:
                values[provider] = self._access(name).decode("utf-8")
            except UnicodeDecodeError:
                raise ConfigError(f"GCP secret '{_short(name)}' is not UTF-8 text") from None
        return check_keys(values, self.description)

    def _access(self, name: str) -> bytes:
        from google.api_core import exceptions as api
        from google.auth import exceptions as auth

        shown = f"GCP secret '{_short(name)}'"
        try:
            response = self._secretmanager().access_secret_version(
                name=name, timeout=CALL_TIMEOUT_SECONDS
            )
        except api.NotFound:
            raise ConfigError(
                f"{shown} does not exist or has no enabled version (create it, or set "
                "secrets.gcp_secret / secrets.gcp_secrets)"
            ) from None
        # The REST transport raises the HTTP classes (Forbidden), gRPC the status ones.
        except (api.PermissionDenied, api.Forbidden, api.Unauthenticated, api.Unauthorized):
            raise ConfigError(
                f"access denied reading {shown}: the service account needs "
                "roles/secretmanager.secretAccessor on it"
            ) from None
        except auth.DefaultCredentialsError:
            raise ConfigError(f"cannot read {shown}: no Google credentials found") from None
        except (api.GoogleAPIError, auth.GoogleAuthError) as exc:
            raise ConfigError(f"cannot read {shown}: {type(exc).__name__}") from None
        data: bytes = response.payload.data
        return data

    def _secretmanager(self) -> Any:
        if self._client is None:
            from google.cloud import secretmanager

            options: dict[str, Any] = {}
            credentials = None
            if self._endpoint:
                options["client_options"] = {"api_endpoint": self._endpoint}
                if self._endpoint.startswith("http://"):
                    # A plain-HTTP endpoint is a local emulator, as with other Google SDKs.
                    from google.auth.credentials import AnonymousCredentials

                    credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
            self._client = secretmanager.SecretManagerServiceClient(
                credentials=credentials, transport="rest", **options
            )
        return self._client

    def _version_name(self, name: str) -> str:
        if not name.startswith("projects/"):
            name = f"projects/{self._project}/secrets/{name}"
        return name if "/versions/" in name else f"{name}/versions/latest"


def _short(name: str) -> str:
    """projects/p/secrets/s/versions/latest -> s (or s@3 for a pinned version)."""
    parts = name.split("/")
    if len(parts) == 6 and parts[2] == "secrets":
        return parts[3] if parts[5] == "latest" else f"{parts[3]}@{parts[5]}"
    return name
