"""The limit store's URL from the secret source: the store is built once the secret is read,
limits then hold in a real Redis, and neither the URL nor its password reaches a log line, an
error body or /metrics, before or during an outage."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ai_proxy.config import Config, ConfigError, LogConfig
from ai_proxy.gateway import Gateway
from ai_proxy.http.app import create_app
from ai_proxy.logs import configure_logging
from ai_proxy.secrets import Keys, SecretSource

from tests.fakes.gemini import FakeGemini
from tests.fakes.redis_server import RedisServer
from tests.gateway_server import serve_app
from tests.reliability.conftest import CLIENT_KEY, body, config_for, keyed

PASSWORD = "redis-secret-password-5d81c0"
CI = {"x-api-key": CLIENT_KEY}


class StaticSecret(SecretSource):
    """What a cloud secret holding the provider key and redis_url reads as."""

    description = "test secret"

    def __init__(self, keys: Keys) -> None:
        super().__init__(refresh_seconds=0)
        self._held = keys

    def fetch(self) -> Keys:
        return dict(self._held)


def redis_config(gemini: FakeGemini) -> Config:
    return config_for(
        gemini.base_url,
        auth=keyed(),
        secrets={"source": "aws", "aws_secret_id": "ai-proxy/keys"},
        limits={"store": "redis", "requests_per_minute": 2, "store_timeout_ms": 200},
        log={"level": "debug"},
    )


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging(LogConfig(level="debug", format="json"), stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


def test_the_url_in_the_secret_is_used_and_never_shown(
    tmp_path: Path, gemini: FakeGemini, log_stream: io.StringIO
) -> None:
    with RedisServer(tmp_path, password=PASSWORD) as redis_server:
        app = create_app(redis_config(gemini))
        assert app.gateway.quota.store is None  # waits for the secret
        app.gateway.secrets = StaticSecret(
            {"gemini": "test-gemini-key", "redis_url": redis_server.url}
        )
        seen: list[str] = []
        with serve_app(app) as url, httpx.Client(base_url=url, timeout=10) as client:
            assert app.gateway.quota.store is not None
            assert app.gateway.quota.store.name == "redis"
            answers = [client.post("/v1/messages", json=body(), headers=CI) for _ in range(3)]
            assert [answer.status_code for answer in answers] == [200, 200, 429]
            redis_server.kill()
            deadline = time.monotonic() + 10
            outage = client.post("/v1/messages", json=body(), headers=CI)
            while outage.status_code == 429 and time.monotonic() < deadline:
                outage = client.post("/v1/messages", json=body(), headers=CI)
            assert outage.status_code == 200  # allow: served while the store is down
            seen += [answer.text for answer in [*answers, outage]]
            seen.append(client.get("/metrics").text)
        assert "redis_url" not in app.gateway.configured_providers
    text = log_stream.getvalue()
    assert "the limit store (redis) is unavailable" in text
    for shown in [text, *seen]:
        assert PASSWORD not in shown
        assert redis_server.url not in shown
        assert f"127.0.0.1:{redis_server.port}" not in shown


def test_redis_with_no_url_in_the_config_or_the_secret_stops_start_up(
    gemini: FakeGemini,
) -> None:
    gateway = Gateway(redis_config(gemini))
    gateway.secrets = StaticSecret({"gemini": "test-gemini-key"})
    try:
        with pytest.raises(ConfigError, match=r"limits\.redis_url"):
            gateway.load_secrets()
    finally:
        asyncio.run(gateway.close())
