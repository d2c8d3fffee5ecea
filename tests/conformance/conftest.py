"""One gateway in front of all three fake upstreams; each case runs once per provider."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import anthropic
import pytest

from tests.gateway_server import make_config, serve_gateway

from .anthropic_harness import AnthropicHarness
from .gemini_harness import GeminiHarness
from .harness import ProviderHarness
from .openai_harness import OpenAIHarness

Servers = tuple[dict[str, ProviderHarness], str]


@pytest.fixture(scope="package")
def servers() -> Iterator[Servers]:
    harnesses: dict[str, ProviderHarness] = {
        "gemini": GeminiHarness(),
        "openai": OpenAIHarness(),
        "anthropic": AnthropicHarness(),
    }
    with ExitStack() as stack:
        urls = {name: stack.enter_context(h.serve()) for name, h in harnesses.items()}
        config = make_config(
            urls,
            keys={name: h.api_key for name, h in harnesses.items()},
            # No client keys, no retries: one scripted upstream answer is one client answer.
            auth={"disabled": True},
            retries={"max_retries": 0},
        )
        yield harnesses, stack.enter_context(serve_gateway(config))


@pytest.fixture(params=["gemini", "openai", "anthropic"])
def harness(request: pytest.FixtureRequest, servers: Servers) -> Iterator[ProviderHarness]:
    chosen = servers[0][request.param]
    chosen.reset()
    yield chosen
    chosen.check_clean()


@pytest.fixture
def gateway_url(servers: Servers) -> str:
    return servers[1]


@pytest.fixture
def client(gateway_url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway_url, api_key="client-key", max_retries=0) as sdk:
        yield sdk
