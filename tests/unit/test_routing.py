from __future__ import annotations

import pytest
from ai_proxy.config import ConfigError
from ai_proxy.errors import NotFound
from ai_proxy.routing import Router, Target

ALL = ("gemini", "openai", "anthropic")


@pytest.mark.parametrize(
    ("model", "target"),
    [
        ("gemini-2.5-pro", Target("gemini", "gemini-2.5-pro")),
        ("gpt-4.1", Target("openai", "gpt-4.1")),
        ("o3-mini", Target("openai", "o3-mini")),
        ("o4-mini", Target("openai", "o4-mini")),
        ("chatgpt-4o-latest", Target("openai", "chatgpt-4o-latest")),
        ("claude-haiku-4-5", Target("anthropic", "claude-haiku-4-5")),
        ("openai/gpt-4.1", Target("openai", "gpt-4.1")),
        ("gemini/custom-tuned", Target("gemini", "custom-tuned")),
    ],
)
def test_prefixes_and_explicit_names(model: str, target: Target) -> None:
    assert Router({}, ALL).resolve(model) == (target,)


def test_alias_chain_comes_first() -> None:
    router = Router({"claude-sonnet-4-5": ["gemini/gemini-2.5-pro", "gpt-4.1"]}, ALL)
    assert router.resolve("claude-sonnet-4-5") == (
        Target("gemini", "gemini-2.5-pro"),
        Target("openai", "gpt-4.1"),
    )


def test_unroutable_model_explains_the_rules() -> None:
    with pytest.raises(NotFound, match="'gemini-\\*' -> gemini") as info:
        Router({"fast": "gemini-2.5-flash"}, ALL).resolve("llama-3")
    assert "fast" in info.value.message and "provider/model" in info.value.message


def test_prefixes_of_unavailable_providers_do_not_route() -> None:
    with pytest.raises(NotFound):
        Router({}, ("gemini",)).resolve("gpt-4.1")


def test_alias_to_unknown_provider_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"routing\.aliases\.x"):
        Router({"x": "mistral/large"}, ALL)
