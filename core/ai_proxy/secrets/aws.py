"""AWS Secrets Manager: one JSON secret {"gemini": "...", "openai": "...", "anthropic": "..."}.

boto3 (extra `ai-proxy[aws]`) is imported on first use, never by the core's import.
"""

from __future__ import annotations

from typing import Any

from ..config import ConfigError, SecretsConfig
from .base import Keys, SecretSource, keys_from_json

_DENIED = {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException"}
_MISSING = {"ResourceNotFoundException"}


class AwsSecretSource(SecretSource):
    def __init__(self, config: SecretsConfig) -> None:
        super().__init__(config.refresh_seconds)
        self.secret_id = config.aws_secret_id
        self.description = f"AWS Secrets Manager secret '{self.secret_id}'"
        self._region = config.aws_region
        self._endpoint_url = config.aws_endpoint_url
        self._client: Any = None

    def fetch(self) -> Keys:
        from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

        try:
            response = self._secretsmanager().get_secret_value(SecretId=self.secret_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise ConfigError(self._explain(code)) from None
        except NoRegionError:
            raise ConfigError(
                f"cannot read {self.description}: no AWS region (set secrets.aws_region or "
                "AWS_REGION)"
            ) from None
        except BotoCoreError as exc:
            raise ConfigError(f"cannot read {self.description}: {type(exc).__name__}") from None
        text = response.get("SecretString")
        if text is None:
            binary = response.get("SecretBinary", b"")
            try:
                text = binary.decode("utf-8")
            except UnicodeDecodeError:
                raise ConfigError(f"{self.description} is binary, not UTF-8 JSON") from None
        return keys_from_json(text, self.description)

    def _secretsmanager(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.session.Session().client(
                "secretsmanager", region_name=self._region, endpoint_url=self._endpoint_url
            )
        return self._client

    def _explain(self, code: str) -> str:
        if code in _MISSING:
            return f"{self.description} does not exist (create it, or set secrets.aws_secret_id)"
        if code in _DENIED:
            return (
                f"access denied reading {self.description}: the role needs "
                "secretsmanager:GetSecretValue on it"
            )
        if code == "DecryptionFailure":
            return f"cannot decrypt {self.description}: the role needs kms:Decrypt on its key"
        return f"cannot read {self.description}: {code or 'unknown error'}"
