"""`GET /v1/models` in Anthropic's list shape: the configured aliases, then the models of each
provider that has a key (or its platform identity), in the order providers are registered.

Provider models are a static list of well-known models plus the ids a provider's config adds
(`providers.<name>.models`), not a live query: listing would cost an upstream call per
provider and fail whenever one is down, and a name missing here still routes by prefix
(`gemini-*`, `gpt-*`, `claude-*`, ...) or as `provider/model`. An alias is listed when at least
one of its targets can be served; it shadows a model of the same id.

Claude Code's model discovery (`GET /v1/models?limit=1000`) keeps only ids that start with
`claude` or `anthropic`. With `routing.discovery_prefix` set, every listed id that does not is
listed a second time under that prefix (`anthropic-gemini-2.5-pro`), after all the others, so
that Gemini and OpenAI models and the aliases show up in its `/model` picker; the router sends
such a name where the name without the prefix goes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from .errors import InvalidRequest, NotFound
from .routing import Router

Entry = dict[str, Any]
UNKNOWN_DATE = "1970-01-01T00:00:00Z"  # Anthropic's convention for "release date unknown"
DEFAULT_LIMIT = 20  # Anthropic's default page size
MAX_LIMIT = 1000

# provider -> (id, display name, release date), newest first.
KNOWN_MODELS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "gemini": (
        ("gemini-3-pro-preview", "Gemini 3 Pro Preview", "2025-11-18"),
        ("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", "2025-07-22"),
        ("gemini-2.5-pro", "Gemini 2.5 Pro", "2025-06-17"),
        ("gemini-2.5-flash", "Gemini 2.5 Flash", "2025-06-17"),
        ("gemini-2.0-flash", "Gemini 2.0 Flash", "2025-02-05"),
    ),
    "openai": (
        ("gpt-5", "GPT-5", "2025-08-07"),
        ("gpt-5-mini", "GPT-5 mini", "2025-08-07"),
        ("gpt-5-nano", "GPT-5 nano", "2025-08-07"),
        ("o3", "o3", "2025-04-16"),
        ("o4-mini", "o4-mini", "2025-04-16"),
        ("gpt-4.1", "GPT-4.1", "2025-04-14"),
        ("gpt-4.1-mini", "GPT-4.1 mini", "2025-04-14"),
        ("gpt-4o-mini", "GPT-4o mini", "2024-07-18"),
        ("gpt-4o", "GPT-4o", "2024-05-13"),
    ),
    "anthropic": (
        ("claude-opus-4-5-20251101", "Claude Opus 4.5", "2025-11-01"),
        ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01"),
        ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29"),
        ("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05"),
        ("claude-opus-4-20250514", "Claude Opus 4", "2025-05-14"),
        ("claude-sonnet-4-20250514", "Claude Sonnet 4", "2025-05-14"),
        ("claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22"),
    ),
    # Claude on Bedrock on demand: the global cross-region inference profiles.
    "bedrock": (
        (
            "global.anthropic.claude-opus-4-5-20251101-v1:0",
            "Claude Opus 4.5 (Bedrock)",
            "2025-11-01",
        ),
        (
            "global.anthropic.claude-haiku-4-5-20251001-v1:0",
            "Claude Haiku 4.5 (Bedrock)",
            "2025-10-01",
        ),
        (
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "Claude Sonnet 4.5 (Bedrock)",
            "2025-09-29",
        ),
    ),
    "vertex": (
        ("gemini-3-pro-preview", "Gemini 3 Pro Preview (Vertex AI)", "2025-11-18"),
        ("gemini-2.5-pro", "Gemini 2.5 Pro (Vertex AI)", "2025-06-17"),
        ("gemini-2.5-flash", "Gemini 2.5 Flash (Vertex AI)", "2025-06-17"),
        ("claude-opus-4-5@20251101", "Claude Opus 4.5 (Vertex AI)", "2025-11-01"),
        ("claude-haiku-4-5@20251001", "Claude Haiku 4.5 (Vertex AI)", "2025-10-01"),
        ("claude-sonnet-4-5@20250929", "Claude Sonnet 4.5 (Vertex AI)", "2025-09-29"),
    ),
}


def _entry(model_id: str, display_name: str, created_at: str) -> Entry:
    return {
        "type": "model",
        "id": model_id,
        "display_name": display_name,
        "created_at": created_at,
        "lifecycle": "active",  # the SDK's ModelInfo requires it
    }


def _release_dates() -> dict[tuple[str, str], str]:
    return {
        (provider, model_id): f"{date}T00:00:00Z"
        for provider, models in KNOWN_MODELS.items()
        for model_id, _, date in models
    }


def entries(
    router: Router,
    configured: Collection[str],
    extra: Mapping[str, Sequence[str]] | None = None,
) -> list[Entry]:
    """Every listed model, aliases first (config order), then provider by provider, each
    provider's configured extra ids (release date unknown) before its built-in ones."""
    dates = _release_dates()
    listed: list[Entry] = []
    for alias, targets in router.aliases.items():
        if not any(target.provider in configured for target in targets):
            continue
        first = targets[0]
        chain = ", then ".join(str(target) for target in targets)
        created = dates.get((first.provider, first.model), UNKNOWN_DATE)
        listed.append(_entry(alias, f"{alias} ({chain})", created))
    seen = {entry["id"] for entry in listed}
    for provider in dict.fromkeys([*KNOWN_MODELS, *(extra or {})]):
        if provider not in configured:
            continue
        models = KNOWN_MODELS.get(provider, ())
        added = tuple((model_id, model_id, "") for model_id in (extra or {}).get(provider, ()))
        for name, display_name, date in added + models:
            model_id = _routed_id(router, provider, name)
            if model_id not in seen:
                seen.add(model_id)
                created = f"{date}T00:00:00Z" if date else UNKNOWN_DATE
                listed.append(_entry(model_id, display_name, created))
    return listed + _discoverable(listed, router, seen)


def _routed_id(router: Router, provider: str, name: str) -> str:
    """The id a client sends for `provider` to serve `name`: the name itself when it routes
    there (by prefix), else provider/name (a Vertex AI `gemini-2.5-pro` is `vertex/gemini-2.5-pro`:
    the bare name routes to Gemini's own API)."""
    direct = router.direct(name)
    return name if direct is not None and direct[0].provider == provider else f"{provider}/{name}"


CLAUDE_CODE_KEEPS = ("claude", "anthropic")  # the id prefixes Claude Code's discovery keeps


def _discoverable(listed: list[Entry], router: Router, seen: set[str]) -> list[Entry]:
    """The listed ids Claude Code would drop, again under the discovery prefix, each only when
    it routes back (a configured extra id that no prefix names would not)."""
    prefix = router.discovery_prefix
    if not prefix:
        return []
    mirrored = []
    for entry in listed:
        model_id = prefix + entry["id"]
        if (
            not entry["id"].startswith(CLAUDE_CODE_KEEPS)
            and model_id not in seen
            and router.discovered(model_id) is not None
        ):
            mirrored.append({**entry, "id": model_id})
    return mirrored


def retrieve(listed: list[Entry], model_id: str, router: Router) -> Entry:
    for entry in listed:
        if entry["id"] == model_id:
            return entry
    raise NotFound(
        f"model '{model_id}' is not listed: /v1/models lists the configured aliases and the "
        f"known models of providers that have an API key. {router.describe()}"
    )


def page(listed: list[Entry], query: str) -> dict[str, Any]:
    """One page, with Anthropic's cursors: `limit`, `after_id` or `before_id`."""
    params = {name: values[-1] for name, values in parse_qs(query).items()}
    limit = _limit(params.get("limit"))
    ids = [entry["id"] for entry in listed]
    if "after_id" in params:
        start = _position(ids, params["after_id"], "after_id") + 1
        chosen = listed[start : start + limit]
        has_more = start + limit < len(listed)
    elif "before_id" in params:
        end = _position(ids, params["before_id"], "before_id")
        chosen = listed[max(0, end - limit) : end]
        has_more = end - limit > 0
    else:
        chosen = listed[:limit]
        has_more = limit < len(listed)
    return {
        "data": chosen,
        "has_more": has_more,
        "first_id": chosen[0]["id"] if chosen else None,
        "last_id": chosen[-1]["id"] if chosen else None,
    }


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit: must be an integer from 1 to {MAX_LIMIT}, got '{value}'")
    return limit


def _position(ids: list[str], model_id: str, name: str) -> int:
    try:
        return ids.index(model_id)
    except ValueError:
        raise InvalidRequest(f"{name}: '{model_id}' is not a listed model id") from None
