"""Cloud Run and Cloud Functions entries; the real Secret Manager client against a local fake."""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ai_proxy.config import ConfigError, load_config
from ai_proxy.secrets.gcp import GcpSecretSource

from tests.fakes.gcp_secret_manager import FakeSecretManager
from tests.fakes.server import BackgroundServer

from .processes import ROOT, free_port, run_to_exit, serve
from .upstream import (
    AUTH_ENV,
    CHUNK_PAUSE_SECONDS,
    CLIENT_HEADERS,
    TEXT_CHUNKS,
    GeminiStub,
    full_text,
    messages_body,
)

PROJECT = "my-project"
GEMINI_KEY = "AIza-test-key-from-secret-manager"
FUNCTION_SOURCE = ROOT / "adapters/cloud_run/src/ai_proxy_cloud_run/function.py"


@pytest.fixture
def secret_manager() -> Iterator[tuple[FakeSecretManager, str]]:
    fake = FakeSecretManager()
    with BackgroundServer(fake, name="fake-secret-manager") as server:
        yield fake, server.base_url


def gcp_settings(endpoint: str, **more: str) -> dict[str, str]:
    return {
        **AUTH_ENV,
        "AI_PROXY_SECRETS__SOURCE": "gcp",
        "AI_PROXY_SECRETS__GCP_PROJECT": PROJECT,
        "AI_PROXY_SECRETS__GCP_ENDPOINT": endpoint,
        **{f"AI_PROXY_SECRETS__{name.upper()}": value for name, value in more.items()},
    }


def source_for(endpoint: str, **more: str) -> GcpSecretSource:
    return GcpSecretSource(load_config(environ=gcp_settings(endpoint, **more)).secrets)


def test_json_secret_is_read_with_the_real_client(
    secret_manager: tuple[FakeSecretManager, str],
) -> None:
    fake, endpoint = secret_manager
    fake.put(PROJECT, "ai-proxy-api-keys", json.dumps({"gemini": GEMINI_KEY, "openai": "sk-x"}))

    keys = source_for(endpoint).load()

    assert keys == {"gemini": GEMINI_KEY, "openai": "sk-x"}
    assert fake.accessed == [f"projects/{PROJECT}/secrets/ai-proxy-api-keys"]


def test_one_secret_per_provider(secret_manager: tuple[FakeSecretManager, str]) -> None:
    fake, endpoint = secret_manager
    fake.put(PROJECT, "gemini-api-key", GEMINI_KEY + "\n")
    fake.put("other-project", "claude", "sk-ant-x")
    secrets = {"gemini": "gemini-api-key", "anthropic": "projects/other-project/secrets/claude"}

    keys = source_for(endpoint, gcp_secrets=json.dumps(secrets)).load()

    assert keys == {"gemini": GEMINI_KEY, "anthropic": "sk-ant-x"}


@pytest.mark.parametrize(
    ("setup", "problem"),
    [
        ("missing", "GCP secret 'ai-proxy-api-keys' does not exist"),
        ("denied", "access denied reading GCP secret 'ai-proxy-api-keys'"),
        ("not-json", "secret 'ai-proxy-api-keys' is not valid JSON"),
        ("wrong-key", "has an unknown 'gemini_api_key'"),
    ],
)
def test_unusable_secret_is_a_config_error_naming_it(
    secret_manager: tuple[FakeSecretManager, str], setup: str, problem: str
) -> None:
    fake, endpoint = secret_manager
    if setup == "denied":
        fake.put(PROJECT, "ai-proxy-api-keys", json.dumps({"gemini": GEMINI_KEY}))
        fake.denied.add((PROJECT, "ai-proxy-api-keys"))
    elif setup == "not-json":
        fake.put(PROJECT, "ai-proxy-api-keys", GEMINI_KEY)
    elif setup == "wrong-key":
        fake.put(PROJECT, "ai-proxy-api-keys", json.dumps({"gemini_api_key": GEMINI_KEY}))

    with pytest.raises(ConfigError, match=problem) as caught:
        source_for(endpoint).load()
    assert GEMINI_KEY not in str(caught.value)


def test_missing_per_provider_secret_names_it(
    secret_manager: tuple[FakeSecretManager, str],
) -> None:
    _, endpoint = secret_manager
    with pytest.raises(ConfigError, match="GCP secret 'openai-key' does not exist"):
        source_for(endpoint, gcp_secrets='{"openai": "openai-key"}').load()


def test_config_requires_a_project() -> None:
    with pytest.raises(ConfigError, match=r"needs secrets\.gcp_project"):
        load_config(environ={"AI_PROXY_SECRETS__SOURCE": "gcp"})


def test_cloud_run_container_serves_on_port_with_keys_from_secret_manager(
    secret_manager: tuple[FakeSecretManager, str], gemini: GeminiStub
) -> None:
    fake, endpoint = secret_manager
    fake.put(PROJECT, "ai-proxy-api-keys", json.dumps({"gemini": GEMINI_KEY}))
    port = free_port()
    env = {
        "PORT": str(port),
        "AI_PROXY_PROVIDERS__GEMINI__BASE_URL": gemini.base_url,
        **gcp_settings(endpoint),
    }

    with serve([sys.executable, "-m", "ai_proxy_cloud_run"], env, port) as url:
        assert httpx.head(url + "/").status_code == 200
        response = httpx.post(
            url + "/v1/messages", content=messages_body(stream=False), headers=CLIENT_HEADERS
        )

    assert response.status_code == 200, response.text
    assert response.json()["content"][0]["text"] == "".join(TEXT_CHUNKS)
    assert gemini.keys_seen == [GEMINI_KEY]
    assert len(fake.accessed) == 1


def test_cloud_run_container_stops_at_start_up_when_the_secret_is_missing(
    secret_manager: tuple[FakeSecretManager, str],
) -> None:
    _, endpoint = secret_manager
    env = {"PORT": str(free_port()), **gcp_settings(endpoint)}

    exited = run_to_exit([sys.executable, "-m", "ai_proxy_cloud_run"], env)

    assert exited.returncode != 0
    assert "GCP secret 'ai-proxy-api-keys' does not exist" in exited.output


def _functions_framework(port: int) -> list[str]:
    binary = Path(sys.executable).parent / "functions-framework"
    return [
        str(binary),
        "--source",
        str(FUNCTION_SOURCE),
        "--target",
        "ai_proxy",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def test_functions_framework_entry_streams_incrementally(
    secret_manager: tuple[FakeSecretManager, str], gemini: GeminiStub
) -> None:
    fake, endpoint = secret_manager
    fake.put(PROJECT, "ai-proxy-api-keys", json.dumps({"gemini": GEMINI_KEY}))
    port = free_port()
    env = {"AI_PROXY_PROVIDERS__GEMINI__BASE_URL": gemini.base_url, **gcp_settings(endpoint)}

    arrivals: list[tuple[float, bytes]] = []
    with (
        serve(_functions_framework(port), env, port) as url,
        httpx.stream(
            "POST",
            url + "/v1/messages",
            content=messages_body(stream=True),
            headers=CLIENT_HEADERS,
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        arrivals.extend((time.monotonic(), chunk) for chunk in response.iter_bytes())

    body = b"".join(chunk for _, chunk in arrivals)
    assert full_text(body) == "".join(TEXT_CHUNKS)
    first_text = next(at for at, chunk in arrivals if b"text_delta" in chunk)
    # Relayed, not buffered: the first words arrived while upstream was still pausing.
    assert arrivals[-1][0] - first_text >= CHUNK_PAUSE_SECONDS * (len(TEXT_CHUNKS) - 1) * 0.8
    assert gemini.keys_seen == [GEMINI_KEY]


def test_secret_payload_is_base64_on_the_wire(
    secret_manager: tuple[FakeSecretManager, str],
) -> None:
    """Guards the fake itself: the real API sends payload.data base64-encoded."""
    fake, endpoint = secret_manager
    fake.put(PROJECT, "s", b"\x00\xffbinary")
    path = f"/v1/projects/{PROJECT}/secrets/s/versions/latest:access"
    data = httpx.get(endpoint + path).json()["payload"]["data"]
    assert base64.b64decode(data) == b"\x00\xffbinary"
