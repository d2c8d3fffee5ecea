"""Configuration: a TOML file, then `AI_PROXY_<SECTION>__<KEY>` environment overrides.

Every key is typed and unknown keys are refused, so a typo stops start-up with one line naming
the key instead of being silently ignored. Values from the environment are parsed as JSON when
they look like JSON (numbers, booleans, arrays, tables), else taken as strings.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "AI_PROXY_"
CONFIG_PATH_ENV = "AI_PROXY_CONFIG"
PROVIDER_NAMES = ("gemini", "openai", "anthropic")


class ConfigError(Exception):
    """Start-up must stop; the message is one line naming the offending key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=1, le=65535)] = 3000
    # SSE `ping` frames are sent when upstream has been silent this long.
    ping_interval_seconds: Annotated[float, Field(gt=0)] = 10.0
    # Anthropic's own limit for a Messages request body.
    max_body_bytes: Annotated[int, Field(ge=1024)] = 32 * 1024 * 1024


class LogConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "text"] = "json"

    @field_validator("level", "format", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class TimeoutConfig(_Section):
    connect_seconds: Annotated[float, Field(gt=0)] = 10.0
    # No upstream byte for this long (before the first byte, or between stream chunks).
    read_seconds: Annotated[float, Field(gt=0)] = 300.0
    total_seconds: Annotated[float, Field(gt=0)] = 900.0


class ProviderConfig(_Section):
    api_key: str | None = Field(default=None, repr=False)
    base_url: str
    timeouts: TimeoutConfig = TimeoutConfig()
    max_connections: Annotated[int, Field(ge=1)] = 512

    @field_validator("base_url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("api_key")
    @classmethod
    def _blank_is_missing(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class ProvidersConfig(_Section):
    gemini: ProviderConfig = ProviderConfig(base_url="https://generativelanguage.googleapis.com")
    openai: ProviderConfig = ProviderConfig(base_url="https://api.openai.com/v1")
    anthropic: ProviderConfig = ProviderConfig(base_url="https://api.anthropic.com")

    def get(self, name: str) -> ProviderConfig:
        config: ProviderConfig = getattr(self, name)
        return config


class RoutingConfig(_Section):
    # alias -> "provider/model" or an ordered fallback chain of them.
    aliases: dict[str, str | list[str]] = Field(default_factory=dict)


class Config(_Section):
    server: ServerConfig = ServerConfig()
    log: LogConfig = LogConfig()
    providers: ProvidersConfig = ProvidersConfig()
    routing: RoutingConfig = RoutingConfig()


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (if any), apply environment overrides, validate."""
    environ = os.environ if environ is None else environ
    path = path or environ.get(CONFIG_PATH_ENV)
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name != CONFIG_PATH_ENV:
            keys = name[len(ENV_PREFIX) :].lower().split("__")
            _set_path(data, keys, _parse_env_value(value), name)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _set_path(data: dict[str, Any], keys: list[str], value: Any, env_name: str) -> None:
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{env_name}: {'.'.join(keys)} is below a non-table value")
        node = child
    node[keys[-1]] = value


def _parse_env_value(value: str) -> Any:
    stripped = value.strip()
    if stripped[:1] in ("[", "{") or stripped in ("true", "false"):
        try:
            return orjson.loads(stripped)
        except orjson.JSONDecodeError:
            return value
    return value


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"])
    env = ENV_PREFIX + "__".join(str(part) for part in error["loc"]).upper()
    if error["type"] == "extra_forbidden":
        return f"unknown config key '{key}' (or environment variable {env})"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"invalid config key '{key}': {error['msg']}{more}"
