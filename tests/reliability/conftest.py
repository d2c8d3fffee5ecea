"""Shared pieces for the reliability tests: the real app under uvicorn on 127.0.0.1 in front
of the fake Gemini, configured with short timeouts and retries that barely wait."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from ai_proxy.auth import hash_key
from ai_proxy.config import Config
from ai_proxy.gateway import Gateway
from ai_proxy.http.app import create_app
from ai_proxy.observability import RequestRecord

from tests.fakes.gemini import FakeGemini
from tests.gateway_server import serve_app, serve_gateway

CLIENT_KEY = "aip_test-client-key-0123456789abcdefghijklmnop"
OTHER_KEY = "aip_other-client-key-0123456789abcdefghijklmno"
MODEL = "gemini-2.5-flash"


def body(*, stream: bool = False, model: str = MODEL, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": "Hello"}],
        **extra,
    }


def config_for(
    gemini_url: str, *, timeouts: dict[str, float] | None = None, **sections: Any
) -> Config:
    """Gemini at the fake; no client auth unless `auth` is given; fast retries."""
    gemini: dict[str, Any] = {"base_url": gemini_url, "api_key": "test-gemini-key"}
    if timeouts:
        gemini["timeouts"] = timeouts
    data: dict[str, Any] = {
        "providers": {"gemini": gemini},
        "auth": {"disabled": True},
        "retries": {"initial_backoff_seconds": 0.01, "max_backoff_seconds": 0.05},
        "log": {"level": "warning"},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return Config.model_validate(data)


def keyed(**auth: Any) -> dict[str, Any]:
    """An `auth` section admitting CLIENT_KEY (as "ci") and OTHER_KEY (as "other")."""
    return {
        "disabled": False,
        "client_keys": [
            {"name": "ci", "sha256": hash_key(CLIENT_KEY)},
            {"name": "other", "sha256": hash_key(OTHER_KEY)},
        ],
        **auth,
    }


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


@contextmanager
def client_for(config: Config, timeout: float = 10.0) -> Iterator[httpx.Client]:
    with serve_gateway(config) as base_url, httpx.Client(base_url=base_url, timeout=timeout) as c:
        yield c


@contextmanager
def running(config: Config) -> Iterator[tuple[str, Gateway]]:
    """The real app under uvicorn on 127.0.0.1; yields its base URL and its Gateway."""
    app = create_app(config)
    with serve_app(app) as url:
        yield url, app.gateway


class RecordSpy:
    """An observer keeping every finished RequestRecord (what logs and metrics are fed)."""

    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def request_started(self, record: RequestRecord) -> None:
        pass

    def stream_started(self, record: RequestRecord) -> None:
        pass

    def secret_refresh_failed(self, source: str) -> None:
        pass

    def limit_store_failed(self, store: str) -> None:
        pass

    def request_finished(self, record: RequestRecord) -> None:
        self.records.append(record)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[RequestRecord]:
        deadline = time.monotonic() + timeout
        while len(self.records) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.records
