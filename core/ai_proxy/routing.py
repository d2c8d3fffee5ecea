"""Which provider serves a model name: aliases first, then a name under the discovery prefix
(`routing.discovery_prefix`, routed as the name without it), then `provider/model`, then name
prefixes."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from .config import ConfigError
from .errors import NotFound

# The geographies of Bedrock's cross-region inference profiles: `<geography>.anthropic.<model>`.
BEDROCK_GEOGRAPHIES = ("us", "eu", "apac", "global", "jp", "au", "ca", "us-gov")

# Model-name prefixes each provider is known by (OpenAI's o-series has no common prefix).
PREFIXES: tuple[tuple[str, str], ...] = (
    ("gemini-", "gemini"),
    ("gpt-", "openai"),
    ("chatgpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("claude-", "anthropic"),
    # Bedrock's ids: a foundation model (anthropic.claude-...) or a cross-region inference
    # profile (us., eu., apac., global., ... before it). Vertex AI and Azure OpenAI use the
    # providers' own names, so they are reached as vertex/... and azure_openai/... or by alias.
    ("anthropic.", "bedrock"),
    *((f"{geography}.anthropic.", "bedrock") for geography in BEDROCK_GEOGRAPHIES),
)


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


class Router:
    def __init__(
        self,
        aliases: Mapping[str, str | list[str]],
        providers: Collection[str],
        discovery_prefix: str = "",
    ) -> None:
        self._providers = frozenset(providers)
        self.discovery_prefix = discovery_prefix
        self._prefixes = tuple((p, name) for p, name in PREFIXES if name in self._providers)
        self.aliases: dict[str, tuple[Target, ...]] = {
            alias: self._parse_chain(alias, chain) for alias, chain in aliases.items()
        }

    def _parse_chain(self, alias: str, chain: str | list[str]) -> tuple[Target, ...]:
        entries = [chain] if isinstance(chain, str) else chain
        if not entries:
            raise ConfigError(f"routing.aliases.{alias}: needs at least one target")
        targets = []
        for entry in entries:
            target = self._explicit(entry) or self._by_prefix(entry)
            if target is None:
                raise ConfigError(
                    f"routing.aliases.{alias}: '{entry}' names no known provider "
                    f"(write it as provider/model with provider one of {sorted(self._providers)})"
                )
            targets.append(target)
        return tuple(targets)

    def resolve(self, model: str) -> tuple[Target, ...]:
        """The ordered targets to try for a client-visible model name."""
        chain = self.aliases.get(model) or self.discovered(model) or self.direct(model)
        if chain is None:
            raise NotFound(f"model '{model}' is not routed to any provider. {self.describe()}")
        return chain

    def discovered(self, model: str) -> tuple[Target, ...] | None:
        """The targets of a name listed under the discovery prefix, if it is one."""
        prefix = self.discovery_prefix
        if not prefix or not model.startswith(prefix):
            return None
        listed = model[len(prefix) :]
        return self.aliases.get(listed) or self.direct(listed)

    def direct(self, model: str) -> tuple[Target, ...] | None:
        target = self._explicit(model) or self._by_prefix(model)
        return (target,) if target is not None else None

    def describe(self) -> str:
        prefixes = ", ".join(f"'{p}*' -> {name}" for p, name in self._prefixes)
        aliases = ", ".join(sorted(self.aliases)) or "none"
        discovery = (
            f", as '{self.discovery_prefix}<model or alias>'" if self.discovery_prefix else ""
        )
        return (
            f"Models are routed by configured alias ({aliases}){discovery}, by an explicit "
            f"'provider/model' name, or by prefix ({prefixes})."
        )

    def _explicit(self, name: str) -> Target | None:
        provider, slash, model = name.partition("/")
        if slash and model and provider in self._providers:
            return Target(provider, model)
        return None

    def _by_prefix(self, name: str) -> Target | None:
        for prefix, provider in self._prefixes:
            if name.startswith(prefix):
                return Target(provider, name)
        return None
