"""The price table: every listed model has a price, snapshots find their base, config wins."""

from __future__ import annotations

import pytest
from ai_proxy.config import PriceConfig
from ai_proxy.model_list import KNOWN_MODELS
from ai_proxy.quota.prices import DEFAULT_PRICES, Price, PriceTable
from ai_proxy.quota.store import NANO


def test_every_model_that_v1_models_lists_has_a_price() -> None:
    table = PriceTable({})
    listed = [entry[0] for models in KNOWN_MODELS.values() for entry in models]
    assert listed
    assert [model for model in listed if table.find(model) is None] == []


@pytest.mark.parametrize(
    ("model", "base"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gemini-2.5-flash-preview-09-2025", "gemini-2.5-flash"),
        ("gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
    ],
)
def test_an_id_finds_the_longest_base_it_extends(model: str, base: str) -> None:
    assert PriceTable({}).find(model) is DEFAULT_PRICES[base]


@pytest.mark.parametrize(
    ("cloud_id", "base"),
    [
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
        ("anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1"),
        ("us-gov.anthropic.claude-3-5-haiku-20241022-v1", "claude-3-5-haiku"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("claude-opus-4-5@20251101", "claude-opus-4-5"),
    ],
)
def test_a_cloud_id_is_priced_as_the_model_it_names(cloud_id: str, base: str) -> None:
    assert PriceTable({}).find(cloud_id) is DEFAULT_PRICES[base]


def test_a_configured_price_for_a_cloud_id_wins_over_its_list_name() -> None:
    table = PriceTable(
        {"us.anthropic.claude-sonnet-4-5-20250929-v1:0": PriceConfig(input=1, output=2)}
    )
    price = table.find("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert price is not None and (price.input, price.output) == (1, 2)
    assert table.find("claude-sonnet-4-5@20250929") is DEFAULT_PRICES["claude-sonnet-4-5"]


def test_an_unknown_model_has_no_price_and_a_prefix_needs_a_dash() -> None:
    table = PriceTable({})
    assert table.find("llama-3") is None
    assert table.find("gpt-4ox") is None  # not "gpt-4o" followed by "-"


def test_anthropic_cache_prices_follow_its_multipliers() -> None:
    sonnet = DEFAULT_PRICES["claude-sonnet-4-5"]
    assert (sonnet.input, sonnet.output) == (3.0, 15.0)
    assert sonnet.cache_read == pytest.approx(0.3)
    assert sonnet.cache_write == pytest.approx(3.75)


def test_configured_prices_add_and_override_with_cache_defaulting_to_input() -> None:
    table = PriceTable(
        {
            "gemini-2.5-flash": PriceConfig(input=1.0, output=2.0),
            "house-model": PriceConfig(input=0.5, output=1.0, cache_read=0.05, cache_write=0.6),
        }
    )
    assert table.find("gemini-2.5-flash") == Price(1.0, 2.0, 1.0, 1.0)
    assert table.find("gemini-2.5-flash-preview") == Price(1.0, 2.0, 1.0, 1.0)
    assert table.find("house-model") == Price(0.5, 1.0, 0.05, 0.6)


def test_cost_is_exact_integer_nano_usd() -> None:
    price = Price(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75)
    # 1M input tokens at $3 + 1M output at $15 = $18.
    assert price.nanousd(1_000_000, 1_000_000, 0, 0) == 18 * NANO
    # One token of each: 3000 + 15000 + 300 + 3750 nano-USD.
    assert price.nanousd(1, 1, 1, 1) == 22_050
