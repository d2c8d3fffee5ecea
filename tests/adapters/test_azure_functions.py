"""Azure Functions: the trigger with real azure.functions / FastAPI-extension request objects;
the real azure-keyvault-secrets client against a local Key Vault over TLS."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import azure.functions as func
import fastapi
import httpx
import pytest
from ai_proxy.config import ConfigError, load_config
from ai_proxy.factory import build_gateway
from ai_proxy.gateway import Gateway
from ai_proxy.plain import CoreRequest, CoreResponse
from ai_proxy.secrets.azure import AzureSecretSource
from ai_proxy.streams import StreamBody
from ai_proxy_azure_functions.app import build_function_app
from azure.core.credentials import AccessToken
from azure.functions.decorators.http import HttpTrigger
from azurefunctions.extensions.http.fastapi import WebApp
from starlette.requests import ClientDisconnect

from tests.fakes.azure_key_vault import TOKEN, FakeKeyVault, serve_tls
from tests.fakes.server import BackgroundServer

from .processes import ROOT
from .upstream import (
    AUTH_ENV,
    CHUNK_PAUSE_SECONDS,
    CLIENT_HEADERS,
    TEXT_CHUNKS,
    GeminiStub,
    full_text,
    messages_body,
)

GEMINI_KEY = "AIza-test-key-from-key-vault"
ADAPTER = ROOT / "adapters/azure_functions"


class StaticCredential:
    """What a managed identity would hand the client, without the metadata endpoint."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(TOKEN, int(time.time()) + 3600)


class Vault:
    """The fake vault, and the sources made for it (closed before it stops: their clients
    keep TLS connections alive)."""

    def __init__(self, fake: FakeKeyVault, url: str, ca_file: Path) -> None:
        self.fake, self.url, self.ca_file = fake, url, ca_file
        self.sources: list[AzureSecretSource] = []

    def source(self, trusted: bool = True, **settings: str) -> AzureSecretSource:
        environ = {
            "AI_PROXY_SECRETS__SOURCE": "azure",
            "AI_PROXY_SECRETS__AZURE_VAULT_URL": self.url,
            **{f"AI_PROXY_SECRETS__{name.upper()}": value for name, value in settings.items()},
        }
        options: dict[str, Any] = {"verify_challenge_resource": False}
        if trusted:
            options["connection_verify"] = str(self.ca_file)
        else:
            options["retry_total"] = 0
        source = AzureSecretSource(
            load_config(environ=environ).secrets, credential=StaticCredential(), **options
        )
        self.sources.append(source)
        return source

    def close(self) -> None:
        for source in self.sources:
            if source._client is not None:
                source._client.close()


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    fake = FakeKeyVault()
    with serve_tls(fake, tmp_path) as (url, ca_file):
        vault = Vault(fake, url, ca_file)
        yield vault
        vault.close()


def test_default_secret_names_are_read_over_tls(vault: Vault) -> None:
    fake = vault.fake
    fake.secrets["gemini-api-key"] = GEMINI_KEY

    keys = vault.source().load()

    assert keys == {"gemini": GEMINI_KEY}
    # redis-url: the limit store's URL, when it is kept in the vault (absent here).
    # Key Vault names allow no "_": azure_openai's key is azure-openai-api-key. Vertex AI
    # takes no key (the platform's identity), so there is no secret for it.
    assert fake.reads == [
        "gemini-api-key",
        "openai-api-key",
        "anthropic-api-key",
        "bedrock-api-key",
        "azure-openai-api-key",
        "redis-url",
    ]


def test_explicit_secret_names_must_exist(vault: Vault) -> None:
    fake = vault.fake
    fake.secrets["gem"] = GEMINI_KEY
    names = json.dumps({"gemini": "gem", "openai": "oai"})

    with pytest.raises(ConfigError, match=r"secret 'oai' in Azure Key Vault .* does not exist"):
        vault.source(azure_secrets=names).load()


def test_denied_secret_is_a_config_error(vault: Vault) -> None:
    fake = vault.fake
    fake.secrets["gemini-api-key"] = GEMINI_KEY
    fake.denied.add("gemini-api-key")

    with pytest.raises(ConfigError, match="access denied reading secret 'gemini-api-key'") as e:
        vault.source().load()
    assert GEMINI_KEY not in str(e.value)


def test_empty_vault_is_a_config_error(vault: Vault) -> None:
    with pytest.raises(ConfigError, match="holds none of the secrets gemini-api-key"):
        vault.source().load()


def test_untrusted_certificate_is_refused(vault: Vault) -> None:
    fake = vault.fake
    fake.secrets["gemini-api-key"] = GEMINI_KEY
    with pytest.raises(ConfigError, match="cannot read secret 'gemini-api-key'"):
        vault.source(trusted=False).load()
    assert fake.reads == []


@pytest.fixture
def keyvault_gateway(vault: Vault, gemini: GeminiStub) -> Gateway:
    fake = vault.fake
    fake.secrets["gemini-api-key"] = GEMINI_KEY
    environ = {
        **AUTH_ENV,
        "AI_PROXY_SECRETS__SOURCE": "azure",
        "AI_PROXY_SECRETS__AZURE_VAULT_URL": vault.url,
        "AI_PROXY_PROVIDERS__GEMINI__BASE_URL": gemini.base_url,
    }
    gateway = Gateway(load_config(environ=environ))
    gateway.secrets = vault.source()
    gateway.load_secrets()
    return gateway


def user_function(app: func.FunctionApp) -> Callable[..., Any]:
    (function,) = app.get_functions()
    trigger = cast(HttpTrigger, function.get_trigger())
    assert trigger.route == "{*path}"
    assert trigger.auth_level == func.AuthLevel.ANONYMOUS
    handler: Callable[..., Any] = function.get_user_function()
    return handler


def call(gateway: Gateway, handler: Callable[..., Any], *requests: Any) -> list[Any]:
    """Invoke the trigger as the worker would, in one event loop, closing the pools after."""

    async def main() -> list[Any]:
        try:
            return [await handler(request) for request in requests]
        finally:
            await gateway.close()

    return asyncio.run(main())


def test_buffered_trigger_returns_the_whole_stream(
    keyvault_gateway: Gateway, gemini: GeminiStub
) -> None:
    handler = user_function(build_function_app(keyvault_gateway, streaming=False))
    request = func.HttpRequest(
        "POST",
        "https://my-app.azurewebsites.net/v1/messages",
        headers={**CLIENT_HEADERS, "Content-Type": "application/json"},
        body=messages_body(stream=True),
    )

    (response,) = call(keyvault_gateway, handler, request)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert full_text(response.get_body()) == "".join(TEXT_CHUNKS)
    assert response.get_body().rstrip().endswith(b'data: {"type":"message_stop"}')
    assert gemini.keys_seen == [GEMINI_KEY]


def test_buffered_trigger_json_and_head(keyvault_gateway: Gateway) -> None:
    handler = user_function(build_function_app(keyvault_gateway, streaming=False))
    post = func.HttpRequest(
        "POST",
        "https://my-app.azurewebsites.net/v1/messages?beta=true",
        headers=CLIENT_HEADERS,
        body=messages_body(stream=False),
    )
    head = func.HttpRequest("HEAD", "https://my-app.azurewebsites.net/", headers={}, body=b"")

    answer, probe = call(keyvault_gateway, handler, post, head)
    message = json.loads(answer.get_body())
    assert answer.status_code == 200, message

    assert message["content"] == [{"type": "text", "text": "".join(TEXT_CHUNKS)}]
    assert probe.status_code == 200 and probe.get_body() == b""


def test_streaming_trigger_uses_the_extension_types(keyvault_gateway: Gateway) -> None:
    handler = user_function(build_function_app(keyvault_gateway, streaming=True))
    signature = inspect.signature(handler)
    # The worker picks HTTP streams from these annotations (objects, not strings).
    assert signature.parameters["req"].annotation is fastapi.Request
    assert signature.return_annotation is fastapi.responses.StreamingResponse


def test_streaming_trigger_relays_sse_incrementally(
    keyvault_gateway: Gateway, gemini: GeminiStub
) -> None:
    handler = user_function(build_function_app(keyvault_gateway, streaming=True))
    # The worker's HTTP-streams proxy: the extension's FastAPI app with the trigger on every path.
    web_app = WebApp()
    web_app.route(handler)
    server = BackgroundServer(web_app.get_app(), name="functions-http-proxy")
    server.on_stop.append(keyvault_gateway.close)  # the pools live in the server's loop

    arrivals: list[tuple[float, bytes]] = []
    with (
        server,
        httpx.stream(
            "POST",
            server.base_url + "/v1/messages",
            content=messages_body(stream=True),
            headers=CLIENT_HEADERS,
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        arrivals.extend((time.monotonic(), chunk) for chunk in response.iter_bytes())

    body = b"".join(chunk for _, chunk in arrivals)
    assert full_text(body) == "".join(TEXT_CHUNKS)
    first_text = next(at for at, chunk in arrivals if b"text_delta" in chunk)
    assert arrivals[-1][0] - first_text >= CHUNK_PAUSE_SECONDS * (len(TEXT_CHUNKS) - 1) * 0.8
    assert gemini.keys_seen == [GEMINI_KEY]


@pytest.mark.usefixtures("own_logging")
def test_function_app_file_and_host_json(monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_function_app(
        monkeypatch,
        AI_PROXY_PROVIDERS__GEMINI__API_KEY="from-app-settings",
        AZURE_FUNCTIONS_HTTP_STREAMS="0",
    )

    handler = user_function(module.app)
    assert inspect.signature(handler).parameters["req"].annotation is func.HttpRequest
    host = json.loads((ADAPTER / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensions"]["http"]["routePrefix"] == ""
    assert host["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle"


@pytest.fixture
def own_logging() -> Iterator[None]:
    """The entry sets up the process's logging: give the test process its own back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def load_function_app(monkeypatch: pytest.MonkeyPatch, **settings: str) -> Any:
    """function_app.py as the worker imports it, with these app settings."""
    for name, value in {**AUTH_ENV, **settings}.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("function_app", ADAPTER / "function_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.usefixtures("own_logging")
def test_function_app_logs_json_lines_with_keys_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Not containing another test's key: the keys a process has held stay redacted for good.
    key = "kv-reference-value-9f3e2a71"
    load_function_app(
        monkeypatch,
        AI_PROXY_PROVIDERS__GEMINI__API_KEY=key,
        AZURE_FUNCTIONS_HTTP_STREAMS="0",
    )
    logging.getLogger("ai_proxy.test").warning("upstream said: bad key %s", key)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    starting = next(line for line in lines if line["msg"] == "starting")
    assert starting["logger"] == "ai_proxy.lifecycle" and starting["providers"] == ["gemini"]
    warning = next(line for line in lines if line["logger"] == "ai_proxy.test")
    assert warning["msg"] == "upstream said: bad key [redacted]"
    assert key not in json.dumps(lines)


def test_streaming_trigger_closes_a_body_never_iterated(
    gemini: GeminiStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client is gone before the head went out: the body still closes (its upstream
    connection and concurrency slot released) and the request is reported."""
    environ = {**AUTH_ENV, "AI_PROXY_PROVIDERS__GEMINI__BASE_URL": gemini.base_url}
    environ["AI_PROXY_PROVIDERS__GEMINI__API_KEY"] = GEMINI_KEY
    gateway = build_gateway(load_config(environ=environ))
    handler = user_function(build_function_app(gateway, streaming=True))
    served: list[CoreResponse] = []
    closed: list[bool] = []
    handle = gateway.handle

    async def handle_and_watch(request: CoreRequest) -> CoreResponse:
        response = await handle(request)
        assert isinstance(response.body, StreamBody)
        response.body.on_close(lambda: closed.append(True))
        served.append(response)
        return response

    monkeypatch.setattr(gateway, "handle", handle_and_watch)
    body = messages_body(stream=True)
    scope = {
        "type": "http",
        "asgi": {"spec_version": "2.4"},
        "method": "POST",
        "path": "/v1/messages",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in CLIENT_HEADERS.items()],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def gone(message: dict[str, Any]) -> None:
        raise OSError("client went away")

    async def main() -> None:
        try:
            response = await handler(fastapi.Request(scope, receive))
            with pytest.raises(ClientDisconnect):
                await response(scope, receive, gone)
        finally:
            await gateway.close()

    asyncio.run(main())

    assert closed == [True]
    (response,) = served
    assert response.record is not None and response.record.reported
