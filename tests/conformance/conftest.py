"""Each case runs once per harness, each harness behind a gateway of its own.

One gateway per harness keeps each upstream's settings (a key, or a cloud's platform identity
and the environment it is read from) apart; a gateway starts in a fraction of a second, once
per harness for the whole package, on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import anthropic
import pytest
from ai_proxy.config import Config

from tests.gateway_server import serve_gateway

from .anthropic_harness import AnthropicHarness
from .azure_openai_harness import AzureOpenAIEntraHarness, AzureOpenAIHarness
from .bedrock_harness import BedrockHarness
from .gemini_harness import GeminiHarness
from .harness import ProviderHarness
from .openai_harness import OpenAIHarness
from .vertex_harness import VertexClaudeHarness, VertexGeminiHarness

HARNESSES: dict[str, Callable[[], ProviderHarness]] = {
    "gemini": GeminiHarness,
    "openai": OpenAIHarness,
    "anthropic": AnthropicHarness,
    "bedrock": BedrockHarness,
    "azure_openai": AzureOpenAIHarness,
    "azure_openai_entra": AzureOpenAIEntraHarness,
    "vertex_gemini": VertexGeminiHarness,
    "vertex_claude": VertexClaudeHarness,
}


class Gateways:
    """The harnesses' fakes and gateways, started on first use and stopped with the package."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._started: dict[str, tuple[ProviderHarness, str]] = {}

    def get(self, name: str) -> tuple[ProviderHarness, str]:
        if name not in self._started:
            harness = HARNESSES[name]()
            base_url = self._stack.enter_context(harness.serve())
            config = Config.model_validate(
                {
                    "providers": {harness.provider: harness.provider_table(base_url)},
                    # No client keys, no retries: one scripted upstream answer is one answer.
                    "auth": {"disabled": True},
                    "retries": {"max_retries": 0},
                }
            )
            with harness.platform():
                url = self._stack.enter_context(serve_gateway(config))
            self._started[name] = (harness, url)
        return self._started[name]


@pytest.fixture(scope="package")
def gateways() -> Iterator[Gateways]:
    with ExitStack() as stack:
        yield Gateways(stack)


@pytest.fixture(scope="package", params=list(HARNESSES))
def harness_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def harness(harness_name: str, gateways: Gateways) -> Iterator[ProviderHarness]:
    chosen = gateways.get(harness_name)[0]
    chosen.reset()
    yield chosen
    chosen.check_clean()


@pytest.fixture
def gateway_url(harness_name: str, gateways: Gateways) -> str:
    return gateways.get(harness_name)[1]


@pytest.fixture
def client(gateway_url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway_url, api_key="client-key", max_retries=0) as sdk:
        yield sdk
