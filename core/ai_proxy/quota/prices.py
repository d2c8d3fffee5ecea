"""What a request cost: token counts times the serving model's price, in integer nano-USD.

The built-in table holds the providers' published list prices, as of 2026, for every model
`GET /v1/models` lists (ai_proxy.model_list), in USD per million tokens. They are list prices:
negotiated discounts, batch rates, long-context tiers and regional uplifts are not modelled.
`limits.prices` in the config adds models and overrides any entry here.

Matching a model id: the exact id, else the id a cloud's name for it stands for (`list_name`),
else the longest table id that it extends with "-" (so a dated snapshot such as
claude-sonnet-4-5-20250929 or gpt-4o-2024-08-06 finds its base model's price). An id matching
nothing costs 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..config import PriceConfig
from .store import NANO

# 1 USD per million tokens = NANO / 1e6 nano-USD per token.
NANO_PER_TOKEN_PER_USD_PER_MTOK = NANO / 1_000_000
MAX_REMEMBERED = 1024  # model ids whose lookup is cached


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens of each kind."""

    input: float
    output: float
    cache_read: float
    cache_write: float

    def nanousd(
        self, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int
    ) -> int:
        usd_per_mtok_tokens = (
            input_tokens * self.input
            + output_tokens * self.output
            + cache_read * self.cache_read
            + cache_write * self.cache_write
        )
        return round(usd_per_mtok_tokens * NANO_PER_TOKEN_PER_USD_PER_MTOK)


def _anthropic(input_price: float, output_price: float) -> Price:
    """Anthropic's rule: a 5-minute cache write is 1.25x input, a cache read 0.1x input."""
    return Price(input_price, output_price, input_price * 0.1, input_price * 1.25)


def _cached(input_price: float, output_price: float, cache_read: float) -> Price:
    """OpenAI and Gemini: cached input has its own price; no write is billed per token."""
    return Price(input_price, output_price, cache_read, input_price)


DEFAULT_PRICES: dict[str, Price] = {
    "claude-opus-4-5": _anthropic(5.0, 25.0),
    "claude-opus-4-1": _anthropic(15.0, 75.0),
    "claude-opus-4": _anthropic(15.0, 75.0),
    "claude-sonnet-4-5": _anthropic(3.0, 15.0),
    "claude-sonnet-4": _anthropic(3.0, 15.0),
    "claude-haiku-4-5": _anthropic(1.0, 5.0),
    "claude-3-5-haiku": _anthropic(0.8, 4.0),
    "gemini-3-pro-preview": _cached(2.0, 12.0, 0.2),  # prompts up to 200k tokens
    "gemini-2.5-pro": _cached(1.25, 10.0, 0.125),  # prompts up to 200k tokens
    "gemini-2.5-flash": _cached(0.3, 2.5, 0.03),
    "gemini-2.5-flash-lite": _cached(0.1, 0.4, 0.01),
    "gemini-2.0-flash": _cached(0.1, 0.4, 0.025),
    "gpt-5": _cached(1.25, 10.0, 0.125),
    "gpt-5-mini": _cached(0.25, 2.0, 0.025),
    "gpt-5-nano": _cached(0.05, 0.4, 0.005),
    "gpt-4.1": _cached(2.0, 8.0, 0.5),
    "gpt-4.1-mini": _cached(0.4, 1.6, 0.1),
    "gpt-4o": _cached(2.5, 10.0, 1.25),
    "gpt-4o-mini": _cached(0.15, 0.6, 0.075),
    "o3": _cached(2.0, 8.0, 0.5),
    "o4-mini": _cached(1.1, 4.4, 0.275),
}


class PriceTable:
    def __init__(self, configured: Mapping[str, PriceConfig]) -> None:
        self._prices = dict(DEFAULT_PRICES)
        for model, price in configured.items():
            self._prices[model] = Price(
                price.input,
                price.output,
                price.input if price.cache_read is None else price.cache_read,
                price.input if price.cache_write is None else price.cache_write,
            )
        # Longest first, so the first id a model extends is the most specific one.
        self._by_length = sorted(self._prices, key=len, reverse=True)
        self._found: dict[str, Price | None] = {}

    def find(self, model: str) -> Price | None:
        """The price of `model` (see the module's matching rule), None when unknown."""
        if model in self._found:
            return self._found[model]
        price = self._prices.get(model)
        if price is None:
            name = list_name(model)
            price = self._prices.get(name)
            if price is None:
                base = next(
                    (known for known in self._by_length if name.startswith(known + "-")), None
                )
                price = None if base is None else self._prices[base]
        if len(self._found) < MAX_REMEMBERED:  # ids come from routing: bounded, but be sure
            self._found[model] = price
        return price


# Bedrock's ids: "[geography.]anthropic.<model>[-v<n>[:<m>]]".
_BEDROCK_ID = re.compile(r"(?:[a-z-]+\.)?anthropic\.(?P<model>.+?)(?:-v\d+(?::\d+)?)?")


def list_name(model: str) -> str:
    """A cloud's id of a model -> the provider's own name, which the price list uses: Bedrock's
    `us.anthropic.claude-sonnet-4-5-20250929-v1:0` and Vertex AI's `claude-sonnet-4-5@20250929`
    are both claude-sonnet-4-5-20250929 (Azure OpenAI is priced by the model a deployment
    serves, the name routed to it)."""
    bedrock = _BEDROCK_ID.fullmatch(model)
    if bedrock is not None:
        model = bedrock["model"]
    return model.replace("@", "-")
