"""The SecretSource cache (TTL, last good keys, background refresh) and its start-up hook."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from ai_proxy.config import ConfigError, load_config
from ai_proxy.gateway import Gateway
from ai_proxy.http.asgi import GatewayApp
from ai_proxy.secrets import Keys, SecretSource
from ai_proxy.secrets.base import RETRY_SECONDS

from .processes import child_env
from .upstream import AUTH_ENV


class ScriptedSource(SecretSource):
    """Answers each fetch with the next scripted result (keys, or an exception to raise)."""

    description = "scripted secret 'test/keys'"

    def __init__(self, *results: Keys | Exception, refresh_seconds: float = 300) -> None:
        self.now = 1000.0
        super().__init__(refresh_seconds, clock=lambda: self.now)
        self.results = list(results)
        self.fetches = 0

    def fetch(self) -> Keys:
        self.fetches += 1
        result = self.results.pop(0) if len(self.results) > 1 else self.results[0]
        if isinstance(result, Exception):
            raise result
        return dict(result)


def test_keys_are_cached_until_the_ttl_passes() -> None:
    source = ScriptedSource({"gemini": "one"}, {"gemini": "two"})
    assert source.load() == {"gemini": "one"}

    source.now += 299
    assert source.get_keys() == {"gemini": "one"}
    assert source.fetches == 1

    source.now += 2
    assert source.get_keys() == {"gemini": "two"}
    assert source.fetches == 2


def test_failed_refresh_keeps_keys_and_retries_later(caplog: pytest.LogCaptureFixture) -> None:
    failure = RuntimeError("upstream said AIza-secret-in-an-exception")
    source = ScriptedSource({"gemini": "good"}, failure, failure, {"gemini": "new"})
    source.load()
    source.now += 301

    with caplog.at_level(logging.WARNING, logger="ai_proxy.secrets"):
        assert source.get_keys() == {"gemini": "good"}
        assert source.get_keys() == {"gemini": "good"}  # no new attempt right away
    assert source.fetches == 2
    assert "RuntimeError" in caplog.text and "AIza" not in caplog.text

    source.now += RETRY_SECONDS
    assert source.get_keys() == {"gemini": "good"}  # second failure
    source.now += RETRY_SECONDS
    assert source.get_keys() == {"gemini": "new"}


def test_unexpected_error_at_start_up_is_a_config_error_without_its_message() -> None:
    source = ScriptedSource(RuntimeError("AIza-leaked"))
    with pytest.raises(ConfigError, match="could not read scripted secret 'test/keys'") as e:
        source.load()
    assert "AIza" not in str(e.value)


def test_refresh_forever_installs_rotated_keys() -> None:
    source = ScriptedSource({"gemini": "one"}, {"gemini": "two"}, refresh_seconds=0.05)
    source._clock = time.monotonic  # real time: the task sleeps until the TTL passes
    source.load()
    installed: list[Keys] = []

    async def main() -> None:
        done = asyncio.Event()

        def install(keys: Keys) -> None:
            installed.append(keys)
            done.set()

        task = asyncio.create_task(source.refresh_forever(install))
        await done.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(asyncio.wait_for(main(), 5))
    assert installed[0] == {"gemini": "two"}


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gateway = Gateway(load_config(environ={**AUTH_ENV, "AI_PROXY_SECRETS__SOURCE": "aws"}))
    yield gateway


async def _lifespan(app: GatewayApp) -> list[dict[str, Any]]:
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await app({"type": "lifespan"}, receive, send)
    return sent


def test_lifespan_reads_the_secret_once_and_installs_the_keys(gateway: Gateway) -> None:
    source = ScriptedSource({"gemini": "from-secret"})
    gateway.secrets = source
    assert not gateway.secrets_loaded

    sent = asyncio.run(_lifespan(GatewayApp(gateway)))

    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert gateway.secrets_loaded
    assert gateway.configured_providers == ["gemini"]
    assert source.fetches == 1


def test_lifespan_start_up_fails_naming_the_secret(gateway: Gateway) -> None:
    gateway.secrets = ScriptedSource(ConfigError("scripted secret 'test/keys' does not exist"))

    sent = asyncio.run(_lifespan(GatewayApp(gateway)))

    assert sent == [
        {"type": "lifespan.startup.failed", "message": "scripted secret 'test/keys' does not exist"}
    ]
    assert not gateway.secrets_loaded


def test_importing_the_app_or_building_sources_pulls_no_cloud_sdk() -> None:
    code = (
        "import sys, ai_proxy.http.app\n"
        "from ai_proxy.config import load_config\n"
        "from ai_proxy.secrets import secret_source_from_config\n"
        "for source in ('aws', 'gcp', 'azure'):\n"
        "    env = {'AI_PROXY_SECRETS__SOURCE': source, 'AI_PROXY_SECRETS__GCP_PROJECT': 'p',\n"
        "           'AI_PROXY_SECRETS__AZURE_VAULT_URL': 'https://v.vault.azure.net'}\n"
        "    secret_source_from_config(load_config(environ=env))\n"
        # (google.cloud itself is a namespace package a .pth file may import at start-up.)
        "sdks = ('boto3', 'botocore', 'google.cloud.', 'google.api_core', 'google.auth',\n"
        "        'grpc', 'azure', 'mangum')\n"
        "print(sorted(m for m in sys.modules if m.startswith(sdks)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=child_env({}), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
