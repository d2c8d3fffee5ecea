"""GET /v1/models: what is listed, in which order, and Anthropic's page cursors."""

from __future__ import annotations

from datetime import datetime

import pytest
from ai_proxy import model_list
from ai_proxy.errors import InvalidRequest, NotFound
from ai_proxy.routing import Router

PROVIDERS = ("gemini", "openai", "anthropic")


def router(**aliases: str | list[str]) -> Router:
    return Router(aliases, PROVIDERS)


def ids(entries: list[model_list.Entry]) -> list[str]:
    return [entry["id"] for entry in entries]


def test_models_only_providers_with_a_key_are_listed() -> None:
    listed = model_list.entries(router(), ["gemini"])
    assert ids(listed) == [model_id for model_id, _, _ in model_list.KNOWN_MODELS["gemini"]]
    for entry in listed:
        assert set(entry) == {"type", "id", "display_name", "created_at", "lifecycle"}
        assert entry["type"] == "model"
        assert datetime.fromisoformat(entry["created_at"]).tzinfo is not None  # RFC 3339


def test_models_aliases_first_and_shadowing_a_model_id() -> None:
    targets: dict[str, str | list[str]] = {
        "claude-sonnet-4-5-20250929": ["gemini/gemini-2.5-pro", "openai/gpt-4.1"],
        "fast": "openai/gpt-4.1-mini",
        "unservable": "anthropic/claude-opus-4-8",
    }
    aliases = router(**targets)
    listed = model_list.entries(aliases, ["gemini", "openai"])
    assert ids(listed)[:2] == ["claude-sonnet-4-5-20250929", "fast"]
    assert "unservable" not in ids(listed)  # no target has a key
    assert listed[0]["display_name"] == (
        "claude-sonnet-4-5-20250929 (gemini/gemini-2.5-pro, then openai/gpt-4.1)"
    )
    assert listed[0]["created_at"] == "2025-06-17T00:00:00Z"  # its first target's date
    assert len(ids(listed)) == len(set(ids(listed)))


def test_models_config_adds_ids_with_an_unknown_date() -> None:
    listed = model_list.entries(
        router(), ["anthropic"], {"anthropic": ["claude-opus-4-8", "claude-haiku-4-5-20251001"]}
    )
    assert ids(listed)[0] == "claude-opus-4-8"
    assert listed[0]["created_at"] == model_list.UNKNOWN_DATE
    assert ids(listed).count("claude-haiku-4-5-20251001") == 1


def test_models_retrieve_and_unknown_id() -> None:
    listed = model_list.entries(router(fast="openai/gpt-4.1-mini"), ["openai"])
    assert model_list.retrieve(listed, "fast", router())["id"] == "fast"
    assert model_list.retrieve(listed, "gpt-4o", router())["display_name"] == "GPT-4o"
    with pytest.raises(NotFound, match=r"'gemini-2\.5-pro' is not listed"):
        model_list.retrieve(listed, "gemini-2.5-pro", router())


def test_models_pages_with_anthropic_cursors() -> None:
    listed = model_list.entries(router(), PROVIDERS)
    all_ids = ids(listed)
    assert len(all_ids) > model_list.DEFAULT_LIMIT  # the default page is not everything
    first = model_list.page(listed, "")
    assert ids(first["data"]) == all_ids[:20] and first["has_more"] is True
    assert (first["first_id"], first["last_id"]) == (all_ids[0], all_ids[19])
    rest = model_list.page(listed, f"after_id={first['last_id']}&limit=1000")
    assert ids(rest["data"]) == all_ids[20:] and rest["has_more"] is False
    before = model_list.page(listed, f"before_id={all_ids[5]}&limit=2")
    assert ids(before["data"]) == all_ids[3:5] and before["has_more"] is True
    start = model_list.page(listed, f"before_id={all_ids[2]}&limit=5")
    assert ids(start["data"]) == all_ids[:2] and start["has_more"] is False
    empty = model_list.page([], "")
    assert empty == {"data": [], "has_more": False, "first_id": None, "last_id": None}


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "after_id=nope"])
def test_models_bad_page_parameters(query: str) -> None:
    with pytest.raises(InvalidRequest):
        model_list.page(model_list.entries(router(), PROVIDERS), query)


def claude_code_keeps(listed: list[model_list.Entry]) -> list[str]:
    """What Claude Code's model discovery keeps of a listing."""
    return [i for i in ids(listed) if i.startswith(("claude", "anthropic"))]


def test_models_discovery_prefix_lists_the_rest_again_for_claude_code() -> None:
    routes = Router(
        {"team": ["gemini/gemini-2.5-pro", "openai/gpt-4.1"], "claude-fast": "gpt-4.1-mini"},
        PROVIDERS,
        "anthropic-",
    )
    extra = {"openai": ["ft-no-prefix"], "anthropic": ["claude-opus-4-8"]}
    listed = model_list.entries(routes, ["gemini", "openai", "anthropic"], extra)
    plain = model_list.entries(router(**routes_aliases(routes)), PROVIDERS, extra)
    assert ids(listed)[: len(plain)] == ids(plain)  # the usual list comes first, unchanged
    kept = claude_code_keeps(listed)
    assert {"anthropic-team", "anthropic-gemini-2.5-pro", "anthropic-gpt-5", "anthropic-o3"} <= (
        set(kept)
    )
    assert "claude-fast" in kept and "anthropic-claude-fast" not in kept  # already visible
    assert "claude-opus-4-8" in kept and "anthropic-claude-opus-4-8" not in kept
    assert "anthropic-ft-no-prefix" not in kept  # it would not route back
    for model_id in kept:
        routes.resolve(model_id)  # every id Claude Code keeps routes
    mirrored = next(entry for entry in listed if entry["id"] == "anthropic-gemini-2.5-pro")
    assert mirrored["display_name"] == "Gemini 2.5 Pro"
    assert len(ids(listed)) == len(set(ids(listed)))


def test_models_without_discovery_prefix_claude_code_sees_only_claude() -> None:
    listed = model_list.entries(router(team="gemini/gemini-2.5-pro"), PROVIDERS)
    assert all(i.startswith("claude") for i in claude_code_keeps(listed))
    assert "team" in ids(listed) and "team" not in claude_code_keeps(listed)


def routes_aliases(routes: Router) -> dict[str, list[str]]:
    return {alias: [str(t) for t in targets] for alias, targets in routes.aliases.items()}


def test_models_of_a_cloud_are_listed_as_ids_that_route_back_to_it() -> None:
    clouds = Router({}, (*PROVIDERS, "bedrock", "vertex", "azure_openai"))
    listed = ids(
        model_list.entries(
            clouds, ["vertex", "bedrock", "azure_openai"], {"azure_openai": ["gpt-4.1"]}
        )
    )
    # Bedrock's ids route to it by prefix; Vertex's and Azure's names would route to Gemini's,
    # Anthropic's or OpenAI's own APIs, so they are listed as provider/model.
    assert "global.anthropic.claude-sonnet-4-5-20250929-v1:0" in listed
    assert "vertex/gemini-2.5-pro" in listed and "gemini-2.5-pro" not in listed
    assert "vertex/claude-sonnet-4-5@20250929" in listed
    assert "azure_openai/gpt-4.1" in listed
    for model_id in listed:
        assert clouds.resolve(model_id)[0].provider in {"vertex", "bedrock", "azure_openai"}
    # Registration order, whatever order the configured providers come in.
    assert listed.index("global.anthropic.claude-sonnet-4-5-20250929-v1:0") < listed.index(
        "vertex/gemini-2.5-pro"
    )
