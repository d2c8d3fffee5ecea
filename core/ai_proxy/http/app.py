"""Build the ASGI application from configuration."""

from __future__ import annotations

from ..config import Config, load_config
from ..gateway import Gateway
from .asgi import GatewayApp


def create_app(config: Config | None = None) -> GatewayApp:
    """The app for a config, or for the file named by AI_PROXY_CONFIG plus the environment."""
    return GatewayApp(Gateway(config if config is not None else load_config()))
