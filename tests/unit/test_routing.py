from __future__ import annotations

import pytest
from ai_proxy.config import ConfigError, RoutingConfig
from ai_proxy.errors import NotFound
from ai_proxy.routing import Router, Target

ALL = ("gemini", "openai", "anthropic", "bedrock", "vertex", "azure_openai")


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
        (
            "anthropic.claude-opus-4-1-20250805-v1:0",
            Target("bedrock", "anthropic.claude-opus-4-1-20250805-v1:0"),
        ),
        (
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            Target("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ),
        (
            "global.anthropic.claude-haiku-4-5-20251001-v1:0",
            Target("bedrock", "global.anthropic.claude-haiku-4-5-20251001-v1:0"),
        ),
        (
            "ca.anthropic.claude-sonnet-4-5-20250929-v1:0",
            Target("bedrock", "ca.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ),
        ("vertex/claude-sonnet-4-5@20250929", Target("vertex", "claude-sonnet-4-5@20250929")),
        ("vertex/gemini-2.5-pro", Target("vertex", "gemini-2.5-pro")),
        ("azure_openai/gpt-4.1", Target("azure_openai", "gpt-4.1")),
    ],
)
def test_prefixes_and_explicit_names(model: str, target: Target) -> None:
    assert Router({}, ALL).resolve(model) == (target,)


def test_a_fallback_chain_may_cross_clouds() -> None:
    chain = [
        "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "vertex/claude-sonnet-4-5@20250929",
        "claude-sonnet-4-5",
    ]
    router = Router({"sonnet": chain}, ALL)
    assert [target.provider for target in router.resolve("sonnet")] == [
        "bedrock",
        "vertex",
        "anthropic",
    ]


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


@pytest.mark.parametrize(
    ("model", "targets"),
    [
        ("anthropic-gemini-2.5-pro", (Target("gemini", "gemini-2.5-pro"),)),
        ("anthropic-gpt-5", (Target("openai", "gpt-5"),)),
        ("anthropic-o3", (Target("openai", "o3"),)),
        ("anthropic-openai/gpt-4.1", (Target("openai", "gpt-4.1"),)),
        ("anthropic-team", (Target("gemini", "gemini-2.5-flash"), Target("openai", "gpt-4.1"))),
        # Names that are not under the prefix route as ever.
        ("claude-haiku-4-5", (Target("anthropic", "claude-haiku-4-5"),)),
        ("team", (Target("gemini", "gemini-2.5-flash"), Target("openai", "gpt-4.1"))),
    ],
)
def test_discovery_prefix_routes_as_the_name_without_it(
    model: str, targets: tuple[Target, ...]
) -> None:
    router = Router({"team": ["gemini-2.5-flash", "gpt-4.1"]}, ALL, "anthropic-")
    assert router.resolve(model) == targets


def test_discovery_prefix_that_claude_code_would_drop_is_refused() -> None:
    with pytest.raises(ValueError, match="must start with 'claude' or 'anthropic'"):
        RoutingConfig(discovery_prefix="x-")
    assert RoutingConfig().discovery_prefix == ""


def test_discovery_prefix_claude_keeps_claude_models_on_anthropic() -> None:
    # "claude-" as the prefix: a real Claude name has no routable rest, so it stays Claude's.
    router = Router({}, ALL, "claude-")
    assert router.resolve("claude-gemini-2.5-pro") == (Target("gemini", "gemini-2.5-pro"),)
    assert router.resolve("claude-sonnet-4-5") == (Target("anthropic", "claude-sonnet-4-5"),)
    with pytest.raises(NotFound, match="as 'claude-<model or alias>'"):
        router.resolve("llama-3")
