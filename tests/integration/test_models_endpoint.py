"""GET /v1/models and /v1/models/{id} through the official SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import anthropic
import httpx
import pytest
from ai_proxy import model_list
from ai_proxy.auth import hash_key

from tests.fakes.gemini import FakeGemini
from tests.gateway_server import make_config, serve_gateway

CLIENT_KEY = "aip_models-client-key"
UNREACHABLE = "http://127.0.0.1:9"  # listing never calls upstream


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    config = make_config(
        providers={
            "gemini": {"base_url": UNREACHABLE, "api_key": "g-key"},
            "anthropic": {
                "base_url": UNREACHABLE,
                "api_key": "a-key",
                "models": ["claude-opus-4-8"],
            },
            "openai": {"base_url": UNREACHABLE},  # no key
        },
        auth={"client_keys": [{"name": "tests", "sha256": hash_key(CLIENT_KEY)}]},
        routing={
            "aliases": {
                "team-default": ["gemini/gemini-2.5-pro", "openai/gpt-4.1"],
                "openai-only": "openai/gpt-4.1",
            }
        },
    )
    with serve_gateway(config) as url:
        yield url


@pytest.fixture
def client(gateway_url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway_url, api_key=CLIENT_KEY, max_retries=0) as sdk:
        yield sdk


def test_models_list_shape_and_contents(client: anthropic.Anthropic, gateway_url: str) -> None:
    models = list(client.models.list())  # the SDK follows the pages (20 per page by default)
    ids = [model.id for model in models]
    assert ids[0] == "team-default"
    assert "openai-only" not in ids and "gpt-4.1" not in ids  # OpenAI has no key
    assert "gemini-2.5-pro" in ids and "claude-sonnet-4-5-20250929" in ids
    assert "claude-opus-4-8" in ids  # added by providers.anthropic.models
    assert len(ids) == len(set(ids))
    assert all(model.type == "model" and model.created_at.tzinfo for model in models)
    raw = httpx.get(f"{gateway_url}/v1/models?limit=1000", headers={"x-api-key": CLIENT_KEY})
    page = raw.json()
    assert set(page) == {"data", "has_more", "first_id", "last_id"}
    assert page["has_more"] is False
    assert (page["first_id"], page["last_id"]) == (ids[0], ids[-1])
    assert set(page["data"][0]) == {"type", "id", "display_name", "created_at", "lifecycle"}
    assert page["data"][0]["created_at"].endswith("Z")


def test_models_small_pages_cover_everything(client: anthropic.Anthropic) -> None:
    everything = [model.id for model in client.models.list(limit=1000)]
    paged = [model.id for model in client.models.list(limit=3)]
    assert paged == everything
    first = client.models.list(limit=3)
    assert first.has_more and len(first.data) == 3


def test_models_retrieve(client: anthropic.Anthropic) -> None:
    alias = client.models.retrieve("team-default")
    assert alias.display_name == "team-default (gemini/gemini-2.5-pro, then openai/gpt-4.1)"
    gemini = client.models.retrieve("gemini-2.5-flash")
    assert gemini.display_name == "Gemini 2.5 Flash"
    assert gemini.created_at.isoformat().startswith("2025-06-17")
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.models.retrieve("gpt-4o")  # OpenAI has no key: not listed
    assert cast(dict[str, Any], caught.value.body)["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("no-such-model")


def test_models_needs_a_client_key_and_get(gateway_url: str) -> None:
    assert httpx.get(f"{gateway_url}/v1/models").status_code == 401
    posted = httpx.post(f"{gateway_url}/v1/models", headers={"x-api-key": CLIENT_KEY})
    assert posted.status_code == 405
    assert len(model_list.KNOWN_MODELS["gemini"]) > 0


def test_claude_code_discovery_lists_gemini_models_that_route_back() -> None:
    # Claude Code asks GET /v1/models?limit=1000 (no redirects) and keeps only ids starting
    # with claude or anthropic; routing.discovery_prefix puts Gemini's models there.
    with FakeGemini() as gemini:
        config = make_config(
            {"gemini": gemini.base_url},
            keys={"gemini": gemini.api_key},
            auth={"client_keys": [{"name": "tests", "sha256": hash_key(CLIENT_KEY)}]},
            routing={
                "aliases": {"team": "gemini/gemini-2.5-pro"},
                "discovery_prefix": "anthropic-",
            },
        )
        with serve_gateway(config) as url:
            listing = httpx.get(
                f"{url}/v1/models?limit=1000",
                headers={"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"},
                follow_redirects=False,
                timeout=3,
            )
            assert listing.status_code == 200
            page = listing.json()
            assert page["has_more"] is False
            kept = [m["id"] for m in page["data"] if m["id"].startswith(("claude", "anthropic"))]
            assert "anthropic-team" in kept and "anthropic-gemini-2.5-flash" in kept
            with anthropic.Anthropic(base_url=url, api_key=CLIENT_KEY, max_retries=0) as sdk:
                answer = sdk.messages.with_raw_response.create(
                    model="anthropic-gemini-2.5-flash",
                    max_tokens=64,
                    messages=[{"role": "user", "content": "hi"}],
                )
                assert answer.headers["x-ai-proxy-served-by"] == "gemini/gemini-2.5-flash"
                assert answer.parse().model == "anthropic-gemini-2.5-flash"
                assert sdk.models.retrieve("anthropic-team").display_name.startswith("team (")
        assert gemini.requests[-1].path.endswith("/models/gemini-2.5-flash:generateContent")
