"""Shared pieces for the operations tests: a gateway served on 127.0.0.1 in front of the fake
Gemini, and the process's log lines captured as parsed JSON."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from ai_proxy.config import Config, LogConfig
from ai_proxy.http.app import create_app
from ai_proxy.http.asgi import GatewayApp
from ai_proxy.logs import configure_logging

from tests.fakes.gemini import FakeGemini
from tests.gateway_server import serve_app

Entry = dict[str, Any]


def ops_config(gemini_url: str, api_key: str, **sections: Any) -> Config:
    """Gemini at the fake, an alias, no client auth, retries that do not wait."""
    data: dict[str, Any] = {
        "providers": {"gemini": {"base_url": gemini_url, "api_key": api_key}},
        "routing": {"aliases": {"fast": "gemini/gemini-2.5-flash"}},
        "auth": {"disabled": True},
        "retries": {"initial_backoff_seconds": 0.001, "max_backoff_seconds": 0.002},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return Config.model_validate(data)


@contextmanager
def serve(app: GatewayApp) -> Iterator[str]:
    """The app under uvicorn in a thread, its log lines left to our logging set-up."""
    with serve_app(app, log_config=None, log_level="info") as url:
        yield url


class LogCapture:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def configure(self, **settings: Any) -> None:
        configure_logging(LogConfig(**settings), self.stream)

    def lines(self) -> list[str]:
        return [line for line in self.stream.getvalue().splitlines() if line]

    def entries(self) -> list[Entry]:
        """Every line, parsed: a line that is not one JSON object fails the test here."""
        entries = [orjson.loads(line) for line in self.lines()]
        assert all(isinstance(entry, dict) for entry in entries)
        return entries

    def access(self) -> list[Entry]:
        return [e for e in self.entries() if e["logger"] == "ai_proxy.access"]

    def wait_for(self, predicate: Callable[[list[Entry]], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.entries()):
            if time.monotonic() > deadline:
                raise AssertionError(f"no such log lines; got:\n{self.stream.getvalue()}")
            time.sleep(0.01)


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """configure_logging into a buffer; the process's logging is put back afterwards."""
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    names = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
    saved = {name: logging.getLogger(name) for name in names}
    state = {name: (list(lg.handlers), lg.propagate, lg.level) for name, lg in saved.items()}
    try:
        yield LogCapture()
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_root[0]:
            root.addHandler(handler)
        root.setLevel(saved_root[1])
        for name, (handlers, propagate, level) in state.items():
            lg = saved[name]
            lg.handlers[:] = handlers
            lg.propagate = propagate
            lg.setLevel(level)


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def gateway_app(gemini: FakeGemini) -> GatewayApp:
    return create_app(ops_config(gemini.base_url, gemini.api_key))


def messages_body(model: str = "fast", stream: bool = False, text: str = "Hi") -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }
