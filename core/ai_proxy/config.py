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
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from .providers.registry import KEYED_PROVIDER_NAMES, REGISTRY

ENV_PREFIX = "AI_PROXY_"
CONFIG_PATH_ENV = "AI_PROXY_CONFIG"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


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
    # On SIGTERM: /health/ready answers 503 at once, requests are still served this long (for
    # load balancers to notice), then the listener closes (README, "Graceful shutdown").
    drain_seconds: Annotated[float, Field(ge=0)] = 5.0
    # Then in-flight requests and streams get this long to finish before they are cut.
    shutdown_timeout_seconds: Annotated[float, Field(gt=0)] = 60.0
    # `ai-proxy` worker processes (uvicorn --workers); metrics are then summed across them.
    workers: Annotated[int, Field(ge=1, le=256)] = 1


class LogConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "text"] = "json"
    # Debugging only: log request and non-streamed response bodies (key-shaped strings and
    # the provider keys are still replaced by [redacted]).
    log_bodies: bool = False

    @field_validator("level", "format", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class TimeoutConfig(_Section):
    connect_seconds: Annotated[float, Field(gt=0)] = 10.0
    # Until upstream's response headers arrive (connect included); unset = read_seconds.
    first_byte_seconds: Annotated[float, Field(gt=0)] | None = None
    # No upstream byte for this long (before the first byte, or between stream chunks): the
    # stream idle timeout.
    read_seconds: Annotated[float, Field(gt=0)] = 300.0
    total_seconds: Annotated[float, Field(gt=0)] = 900.0


class ProviderConfig(_Section):
    api_key: str | None = Field(default=None, repr=False)
    base_url: str
    timeouts: TimeoutConfig = TimeoutConfig()
    max_connections: Annotated[int, Field(ge=1)] = 512
    # Model ids GET /v1/models lists for this provider besides the built-in ones
    # (ai_proxy.model_list); any name still routes by prefix or as provider/model.
    models: list[str] = Field(default_factory=list)

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


class CloudProviderConfig(ProviderConfig):
    """A cloud's own model service, reached with the platform's identity (ai_proxy.identity):
    off until `enabled`, or until a key is given for the services that also take one. The
    base URL is derived from the region, location or resource unless set (tests, private
    endpoints)."""

    enabled: bool = False
    base_url: str = ""

    @field_validator("base_url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


# The betas each cloud takes for Claude (ai_proxy.providers.anthropic.betas): any other makes
# it refuse the whole request, so the others a client sends are not forwarded.
BEDROCK_BETAS = (
    "computer-use-2024-10-22",
    "computer-use-2025-01-24",
    "computer-use-2025-11-24",
    "token-efficient-tools-2025-02-19",
    "interleaved-thinking-2025-05-14",
    "output-128k-2025-02-19",
    "dev-full-thinking-2025-05-14",
    "context-1m-2025-08-07",
    "context-management-2025-06-27",
    "effort-2025-11-24",
    "tool-search-tool-2025-10-19",
    "tool-examples-2025-10-29",
    "compact-2026-01-12",
    "dangerous-tool-use-2026-09-03",
    "mid-conversation-output-config-2026-07-01",
    "mid-conversation-tool-changes-2026-07-01",
    "thinking-binding-controls-2026-08-01",
    "thinking-display-updates-2026-08-18",
)
VERTEX_BETAS = (
    "computer-use-2025-01-24",
    "computer-use-2025-11-24",
    "interleaved-thinking-2025-05-14",
    "context-1m-2025-08-07",
    "context-management-2025-06-27",
    "tool-search-tool-2025-10-19",
    "web-search-2025-03-05",
    "compact-2026-01-12",
    "compact-2026-09-04",
    "dangerous-tool-use-2026-09-03",
    "per-turn-control-2026-07-01",
    "thinking-binding-controls-2026-08-01",
    "thinking-display-updates-2026-08-18",
)


class BedrockConfig(CloudProviderConfig):
    # Unset: AWS_REGION (set on Lambda and ECS), then AWS_DEFAULT_REGION.
    region: str | None = None
    # The client's betas forwarded as `anthropic_beta`; the rest are dropped (and logged).
    betas: list[str] = Field(default_factory=lambda: list(BEDROCK_BETAS))


class VertexConfig(CloudProviderConfig):
    # Unset: GOOGLE_CLOUD_PROJECT, then the credentials' own project (the metadata server's
    # on Cloud Run and GKE).
    project: str | None = None
    # "global" is served by every current Gemini and Claude model; a region pins the data.
    location: str = "global"
    # The client's betas forwarded to Claude on Vertex AI; the rest are dropped (and logged).
    betas: list[str] = Field(default_factory=lambda: list(VERTEX_BETAS))

    @field_validator("api_key")
    @classmethod
    def _no_key(cls, value: str | None) -> None:
        if value is not None and value.strip():
            raise ValueError(
                "Vertex AI is reached with the platform's identity, not a key: "
                "set providers.vertex.enabled = true"
            )
        return None


class AzureOpenAIConfig(CloudProviderConfig):
    # The resource name in https://{resource}.openai.azure.com (or set base_url).
    resource: str | None = None
    # A dated version calls /openai/deployments/{deployment}/chat/completions?api-version=...;
    # "v1" calls the v1 API, /openai/v1/chat/completions, with the deployment as the model.
    api_version: str = "2024-10-21"
    # model name -> deployment name; a model not listed is taken as its own deployment name.
    deployments: dict[str, str] = Field(default_factory=dict)
    # A user-assigned managed identity's client id (unset: the system-assigned identity).
    client_id: str | None = None


CLOUD_PROVIDER_CONFIGS: dict[str, type[CloudProviderConfig]] = {
    "bedrock": BedrockConfig,
    "vertex": VertexConfig,
    "azure_openai": AzureOpenAIConfig,
}


class _ProvidersSection(_Section):
    def get(self, name: str) -> ProviderConfig:
        config: ProviderConfig = getattr(self, name)
        return config

    if TYPE_CHECKING:
        # `providers.<name>` for every registered name (the fields are made below).
        def __getattr__(self, name: str) -> ProviderConfig: ...


def _provider_tables() -> dict[str, Any]:
    """`providers.<name>` for each registered provider, its base_url defaulting as registered."""
    tables: dict[str, Any] = {}
    for registration in REGISTRY:
        table: type[ProviderConfig] | None = CLOUD_PROVIDER_CONFIGS.get(registration.name)
        if table is None:
            table = create_model(
                f"{registration.name.capitalize()}Config",
                __base__=ProviderConfig,
                base_url=(str, registration.base_url),
            )
        tables[registration.name] = (table, table.model_validate({}))
    return tables


if TYPE_CHECKING:
    ProvidersConfig = _ProvidersSection
else:
    ProvidersConfig = create_model(
        "ProvidersConfig", __base__=_ProvidersSection, **_provider_tables()
    )


class RoutingConfig(_Section):
    # alias -> "provider/model" or an ordered fallback chain of them.
    aliases: dict[str, str | list[str]] = Field(default_factory=dict)
    # Claude Code's model discovery keeps only ids that start with "claude" or "anthropic":
    # when set (e.g. "anthropic-"), GET /v1/models also lists every other model and alias
    # under this prefix, and such a name routes as the name without it.
    discovery_prefix: str = ""

    @field_validator("discovery_prefix")
    @classmethod
    def _seen_by_claude_code(cls, value: str) -> str:
        if value and not value.startswith(("claude", "anthropic")):
            raise ValueError(
                "must start with 'claude' or 'anthropic' (the only ids Claude Code's model "
                "discovery keeps), e.g. 'anthropic-'"
            )
        return value


class SecretsConfig(_Section):
    """Where provider keys come from (ai_proxy.secrets); "env" means the providers section."""

    source: Literal["env", "aws", "gcp", "azure"] = "env"
    # Re-read the secret this often so a rotated key is picked up; 0 = never.
    refresh_seconds: Annotated[float, Field(ge=0)] = 300.0
    aws_secret_id: str = "ai-proxy/api-keys"
    aws_region: str | None = None
    aws_endpoint_url: str | None = None
    gcp_project: str | None = None
    # One JSON secret {"gemini": "...", ...}, or one secret per provider (provider -> name).
    gcp_secret: str = "ai-proxy-api-keys"
    gcp_secrets: dict[str, str] = Field(default_factory=dict)
    gcp_endpoint: str | None = None
    azure_vault_url: str | None = None
    # provider -> Key Vault secret name; empty = "<provider>-api-key" for each provider.
    azure_secrets: dict[str, str] = Field(default_factory=dict)
    # A user-assigned managed identity's client id; unset = DefaultAzureCredential.
    azure_client_id: str | None = None

    @field_validator("gcp_secrets", "azure_secrets")
    @classmethod
    def _known_providers(cls, value: dict[str, str]) -> dict[str, str]:
        # redis_url: the limit store's URL may be a secret of its own (ai_proxy.secrets).
        unknown = sorted(set(value) - {*KEYED_PROVIDER_NAMES, "redis_url"})
        if unknown:
            expected = ", ".join([*KEYED_PROVIDER_NAMES, "redis_url"])
            raise ValueError(f"unknown provider {unknown[0]!r}; expected {expected}")
        return value

    @model_validator(mode="after")
    def _source_settings(self) -> SecretsConfig:
        names = list(self.gcp_secrets.values()) or [self.gcp_secret]
        full_names = all(name.startswith("projects/") for name in names)
        if self.source == "gcp" and not self.gcp_project and not full_names:
            raise ValueError("source 'gcp' needs secrets.gcp_project")
        if self.source == "azure" and not self.azure_vault_url:
            raise ValueError("source 'azure' needs secrets.azure_vault_url")
        return self


def key_digest(value: str) -> str:
    """A configured key's SHA-256, normalised; ValueError unless it is one."""
    value = value.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError("must be 64 hex digits (the output of `ai-proxy hash-key`)")
    if value == EMPTY_SHA256:
        raise ValueError("is the hash of an empty key")
    return value


class ClientKeyConfig(_Section):
    # Appears in logs and metric labels, so kept to a label-safe alphabet.
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    # Hex SHA-256 of the key (`ai-proxy hash-key` prints it); the key itself is never stored.
    sha256: str = Field(repr=False)
    # Each overrides the `limits` default of the same name for this key; 0 = unlimited.
    requests_per_minute: Annotated[int, Field(ge=0)] | None = None
    tokens_per_minute: Annotated[int, Field(ge=0)] | None = None
    concurrent_requests: Annotated[int, Field(ge=0)] | None = None
    daily_tokens: Annotated[int, Field(ge=0)] | None = None
    monthly_tokens: Annotated[int, Field(ge=0)] | None = None
    daily_usd: Annotated[float, Field(ge=0)] | None = None
    monthly_usd: Annotated[float, Field(ge=0)] | None = None

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        return key_digest(value)


class AdminKeyConfig(_Section):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    sha256: str = Field(repr=False)

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        return key_digest(value)


class AuthConfig(_Section):
    """Client keys for /v1/* (ai_proxy.auth). No keys and not disabled stops start-up."""

    disabled: bool = False
    client_keys: list[ClientKeyConfig] = Field(default_factory=list)
    # Keys for the admin routes (GET /v1/usage), hashed like client keys; they serve no model.
    admin_keys: list[AdminKeyConfig] = Field(default_factory=list)

    @field_validator("client_keys")
    @classmethod
    def _unique(cls, keys: list[ClientKeyConfig]) -> list[ClientKeyConfig]:
        names = [key.name for key in keys]
        if len(set(names)) != len(names):
            raise ValueError("key names must be unique")
        if len({key.sha256 for key in keys}) != len(keys):
            raise ValueError("the same key hash is listed twice")
        return keys


class PriceConfig(_Section):
    """USD per million tokens of one model (ai_proxy.quota.prices has the defaults)."""

    input: Annotated[float, Field(ge=0)]
    output: Annotated[float, Field(ge=0)]
    cache_read: Annotated[float, Field(ge=0)] | None = None  # unset: input's price
    cache_write: Annotated[float, Field(ge=0)] | None = None  # unset: input's price


class LimitsConfig(_Section):
    """Per client key limits, budgets and the usage ledger (ai_proxy.quota).

    Each limit below is the default for every key; `auth.client_keys[]` entries override it.
    0 = no limit. With store = "memory" they hold per instance; with "redis", fleet-wide."""

    store: Literal["memory", "redis"] = "memory"
    # redis:// or rediss:// (TLS), with user:password@ if needed; or `redis_url` in the secret.
    redis_url: str | None = Field(default=None, repr=False)
    # Redis Cluster mode (ElastiCache Serverless, Memorystore Cluster): keys are slot-tagged.
    redis_cluster: bool = False
    # Prefix of every key, so that deployments may share one Redis.
    redis_key_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] = (
        "ai-proxy"
    )
    # Each store call gives up after this long.
    store_timeout_ms: Annotated[float, Field(gt=0, le=5000)] = 50.0
    # The store cannot be reached: serve anyway ("allow") or answer 529 ("deny").
    on_store_error: Literal["allow", "deny"] = "allow"
    # At most one warning per this long while the store fails.
    store_error_log_interval_seconds: Annotated[float, Field(gt=0)] = 60.0
    requests_per_minute: Annotated[int, Field(ge=0)] = 0
    # Requests a key may send at once after being idle; 0 = requests_per_minute.
    burst: Annotated[int, Field(ge=0)] = 0
    # Input + output tokens (cache reads and writes included), as upstream reports them.
    tokens_per_minute: Annotated[int, Field(ge=0)] = 0
    # A key's requests being served at once, streams included.
    concurrent_requests: Annotated[int, Field(ge=0)] = 0
    # Budgets per UTC calendar day and month, in tokens and in USD (from `prices`).
    daily_tokens: Annotated[int, Field(ge=0)] = 0
    monthly_tokens: Annotated[int, Field(ge=0)] = 0
    daily_usd: Annotated[float, Field(ge=0)] = 0.0
    monthly_usd: Annotated[float, Field(ge=0)] = 0.0
    # Days the usage ledger (GET /v1/usage) keeps each day's entries.
    usage_retention_days: Annotated[int, Field(ge=1, le=3660)] = 400
    # Model id -> its price; added to, and overriding, the built-in table.
    prices: dict[str, PriceConfig] = Field(default_factory=dict)
    # Upstream requests in flight on this instance; beyond it -> 529 at once, never a queue.
    max_concurrent_upstream: Annotated[int, Field(ge=1)] = 1024

    @model_validator(mode="after")
    def _store_settings(self) -> LimitsConfig:
        url = self.redis_url
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must start with redis://, rediss:// or unix://")
        return self


class ResponsesConfig(_Section):
    """The Responses door's kept responses (ai_proxy.response_store), for previous_response_id;
    kept only in the fleet store, limits.store = "redis"."""

    # OpenAI keeps a response 30 days. Each one kept here holds its whole conversation (one
    # read continues it), so a long conversation's turns each hold all of it: 7 days covers
    # picking a conversation up after a weekend, at under a quarter of the memory.
    store_ttl_seconds: Annotated[int, Field(ge=1)] = 7 * 24 * 3600


class RetriesConfig(_Section):
    # Extra tries of the same target after a transient failure (connection error, 429, 500,
    # 502, 503, 504, 529), only before anything was sent to the client; 0 = none.
    max_retries: Annotated[int, Field(ge=0, le=10)] = 2
    # Full-jitter exponential backoff: sleep uniform(0, min(max, initial * 2**retry)).
    initial_backoff_seconds: Annotated[float, Field(gt=0)] = 0.5
    max_backoff_seconds: Annotated[float, Field(gt=0)] = 8.0
    # Upstream's Retry-After is waited when at most this; a longer one skips to the fallback.
    max_retry_after_seconds: Annotated[float, Field(ge=0)] = 20.0
    # No retry starts later than this after the request arrived.
    budget_seconds: Annotated[float, Field(ge=0)] = 30.0


class MetricsConfig(_Section):
    # Serve Prometheus metrics at GET /metrics (off on Lambda, where nothing scrapes).
    prometheus: bool = True
    # Model names seen in labels besides configured aliases: the first names served
    # successfully, up to this many; any other name is counted as "other".
    max_model_labels: Annotated[int, Field(ge=0, le=1000)] = 50


class OtelConfig(_Section):
    """OpenTelemetry traces (ai_proxy.tracing, extra `ai-proxy[otel]`), exported over OTLP/HTTP.

    Where to and how: the standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME,
    OTEL_BSP_*), read by the OpenTelemetry SDK itself.
    """

    enabled: bool = False
    # service.name when OTEL_SERVICE_NAME is not set.
    service_name: str = "ai-proxy"
    # Send each upstream attempt's W3C traceparent to the provider.
    propagate_upstream: bool = True


class Config(_Section):
    server: ServerConfig = ServerConfig()
    log: LogConfig = LogConfig()
    providers: ProvidersConfig = ProvidersConfig()
    routing: RoutingConfig = RoutingConfig()
    metrics: MetricsConfig = MetricsConfig()
    secrets: SecretsConfig = SecretsConfig()
    auth: AuthConfig = AuthConfig()
    limits: LimitsConfig = LimitsConfig()
    responses: ResponsesConfig = ResponsesConfig()
    retries: RetriesConfig = RetriesConfig()
    otel: OtelConfig = OtelConfig()


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
