"""AzureOpenAIProvider: where a call goes, what names the model, which credential header."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from ai_proxy.anthropic.envelope import ClientRequest
from ai_proxy.config import AzureOpenAIConfig, ConfigError
from ai_proxy.errors import ProviderNotConfigured
from ai_proxy.identity.azure import AzureIdentity
from ai_proxy.providers.azure_openai import AzureOpenAIProvider
from ai_proxy.providers.base import RequestContext, UpstreamRequest

HI = [{"role": "user", "content": "hi"}]


def provider(**settings: Any) -> AzureOpenAIProvider:
    return AzureOpenAIProvider(AzureOpenAIConfig.model_validate(settings))


def build(
    azure: AzureOpenAIProvider, model: str = "gpt-4.1", api_key: str = "k", **fields: Any
) -> UpstreamRequest:
    request = ClientRequest.from_body(
        orjson.dumps({"model": f"azure_openai/{model}", "max_tokens": 10, "messages": HI} | fields)
    )
    context = RequestContext(
        client_model=f"azure_openai/{model}", upstream_model=model, request_id="req_42"
    )
    return azure.build_request(request, context, api_key)


def test_dated_version_calls_the_deployment_path_without_a_model() -> None:
    upstream = build(provider(resource="contoso", api_key="k", deployments={"gpt-4.1": "prod"}))
    assert upstream.url == (
        "https://contoso.openai.azure.com/openai/deployments/prod/chat/completions"
        "?api-version=2024-10-21"
    )
    body = orjson.loads(upstream.body)
    # The path picks the model; the dated API's schema has no `model`.
    assert "model" not in body
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_v1_names_the_deployment_in_the_body() -> None:
    azure = provider(resource="contoso", api_key="k", api_version="v1", deployments={"o3": "r"})
    upstream = build(azure, model="o3", stream=True, max_tokens=200_000)
    assert upstream.url == "https://contoso.openai.azure.com/openai/v1/chat/completions"
    body = orjson.loads(upstream.body)
    assert body["model"] == "r"
    # Translated for the model itself, not for the deployment's name: o3's output ceiling.
    assert body["max_completion_tokens"] == 100_000
    assert body["stream_options"] == {"include_usage": True}
    assert upstream.stream is True


def test_an_unlisted_model_is_its_own_deployment_and_path_parts_are_quoted() -> None:
    azure = provider(base_url="http://127.0.0.1:9/", api_key="k", api_version="2025-04-01-preview")
    assert build(azure, model="gpt 4o/mini").url == (
        "http://127.0.0.1:9/openai/deployments/gpt%204o%2Fmini/chat/completions"
        "?api-version=2025-04-01-preview"
    )


def test_a_key_goes_in_api_key_with_our_request_id() -> None:
    upstream = build(provider(resource="contoso", api_key="k"), api_key="the-key")
    assert upstream.headers["api-key"] == "the-key"
    assert upstream.headers["x-ms-client-request-id"] == "req_42"
    assert "authorization" not in upstream.headers


def test_without_a_key_the_request_is_left_for_the_identity_to_sign() -> None:
    azure = provider(resource="contoso", enabled=True, client_id="1111")
    assert isinstance(azure.identity, AzureIdentity)
    upstream = build(azure, api_key="")
    assert "api-key" not in upstream.headers and "authorization" not in upstream.headers


def test_a_configured_key_wins_over_the_identity() -> None:
    assert provider(resource="contoso", enabled=True, api_key="k").identity is None
    assert provider().identity is None  # not enabled: nothing to resolve


def test_base_url_comes_from_the_resource_unless_set() -> None:
    assert provider(resource="contoso").base_url == "https://contoso.openai.azure.com"
    assert provider(resource="x", base_url="https://gw.example/").base_url == "https://gw.example"
    assert provider().base_url == ""


def test_enabled_without_a_resource_stops_start_up() -> None:
    with pytest.raises(ConfigError, match=r"providers\.azure_openai\.resource"):
        provider(enabled=True)


def test_a_key_from_a_secret_source_without_a_resource_is_named_on_the_request() -> None:
    with pytest.raises(ProviderNotConfigured, match=r"providers\.azure_openai\.resource"):
        build(provider(), api_key="from-key-vault")
