"""The providers this build can serve, by name."""

from __future__ import annotations

from ..config import ProvidersConfig
from .base import Provider
from .gemini import GeminiProvider


def build_providers(config: ProvidersConfig) -> dict[str, Provider]:
    return {"gemini": GeminiProvider(config.gemini)}
