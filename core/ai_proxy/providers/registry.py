"""The providers this build can serve, by name."""

from __future__ import annotations

from ..config import ProvidersConfig
from .anthropic import AnthropicProvider
from .base import Provider
from .gemini import GeminiProvider
from .openai import OpenAIProvider


def build_providers(config: ProvidersConfig) -> dict[str, Provider]:
    return {
        "gemini": GeminiProvider(config.gemini),
        "openai": OpenAIProvider(config.openai),
        "anthropic": AnthropicProvider(config.anthropic),
    }
