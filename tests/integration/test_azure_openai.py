"""OpenAI on Azure end to end: the anthropic SDK -> the gateway -> the fake Azure OpenAI front
door (api-version, deployment, api-key or Entra ID token checked) -> the fake OpenAI; the
token from the real azure-identity against the fake App Service managed identity endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from ai_proxy.config import Config, load_config
from ai_proxy.secrets.azure import AzureSecretSource

from tests.fakes.azure_identity_endpoint import SYSTEM_PRINCIPAL, FakeManagedIdentity
from tests.fakes.azure_key_vault import TOKEN, FakeKeyVault, serve_tls
from tests.fakes.azure_openai import AUDIENCE, RESOURCE_KEY, FakeAzureOpenAI, Filtered
from tests.fakes.openai import Answer, FakeOpenAI, ToolCall, rate_limited
from tests.gateway_server import serve_gateway

UAMI = "11111111-2222-3333-4444-555555555555"
UAMI_PRINCIPAL = "principal-of-the-uami"
UNGRANTED = "99999999-0000-0000-0000-000000000000"
HI: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Hello"}]


class Azure:
    """The fakes, and a gateway in front of them made per test from a providers table."""

    def __init__(self, stack: ExitStack, monkeypatch: pytest.MonkeyPatch) -> None:
        self.openai = FakeOpenAI()
        self.identity = FakeManagedIdentity(
            user_assigned={UAMI: UAMI_PRINCIPAL, UNGRANTED: "principal-without-the-role"}
        )
        self.front = FakeAzureOpenAI(
            self.openai,
            deployments={"chat-prod": "gpt-4.1", "gpt-4o": "gpt-4o"},
            identity=self.identity,
            role_holders={SYSTEM_PRINCIPAL, UAMI_PRINCIPAL},
        )
        stack.enter_context(self.identity.serve())
        self.base_url = stack.enter_context(self.front.serve())
        self._stack = stack
        self._monkeypatch = monkeypatch

    def gateway(self, **table: Any) -> anthropic.Anthropic:
        """A gateway whose providers.azure_openai is `table` (on this resource), with the
        managed identity's environment set as App Service sets it."""
        for name, value in self.identity.environ().items():
            self._monkeypatch.setenv(name, value)
        table = {"base_url": self.base_url, "deployments": {"gpt-4.1": "chat-prod"}, **table}
        config = Config.model_validate(
            {
                "providers": {"azure_openai": table},
                "auth": {"disabled": True},
                "retries": {"max_retries": 0},
            }
        )
        url = self._stack.enter_context(serve_gateway(config))
        return self._stack.enter_context(
            anthropic.Anthropic(base_url=url, api_key="client", max_retries=0)
        )


@pytest.fixture
def azure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Azure]:
    with ExitStack() as stack:
        yield Azure(stack, monkeypatch)


def ask(client: anthropic.Anthropic, stream: bool, model: str = "azure_openai/gpt-4.1") -> Any:
    if stream:
        with client.messages.stream(model=model, max_tokens=64, messages=HI) as events:
            return events.get_final_message()
    return client.messages.create(model=model, max_tokens=64, messages=HI)


def refused(client: anthropic.Anthropic, stream: bool = False) -> anthropic.APIStatusError:
    with pytest.raises(anthropic.APIStatusError) as info:
        ask(client, stream)
    return info.value


# --- the two URL forms, the deployment mapping -------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_key_calls_the_deployment_with_the_dated_api(azure: Azure, stream: bool) -> None:
    client = azure.gateway(api_key=RESOURCE_KEY)
    azure.openai.enqueue(Answer(content=["Hel", "lo!"]))
    message = ask(client, stream)
    assert [block.text for block in message.content] == ["Hello!"]
    assert message.model == "azure_openai/gpt-4.1"
    (received,) = azure.front.received
    assert received.path == "/openai/deployments/chat-prod/chat/completions"
    assert received.query == {"api-version": "2024-10-21"}
    assert received.headers["api-key"] == RESOURCE_KEY
    assert "Authorization" not in received.headers
    assert received.headers["x-ms-client-request-id"].startswith("req_")
    assert "model" not in received.body
    # What OpenAI itself validated: the deployment's model, our translation.
    assert azure.openai.requests[0].body["model"] == "gpt-4.1"
    assert azure.front.refusals == [] and azure.openai.rejections == []


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_the_v1_api_names_the_deployment_as_the_model(azure: Azure, stream: bool) -> None:
    client = azure.gateway(api_key=RESOURCE_KEY, api_version="v1")
    weather = ToolCall("get_weather", ['{"city":', ' "Paris"}'])
    azure.openai.enqueue(Answer(tool_calls=[weather], finish_reason="tool_calls"))
    tools: list[anthropic.types.ToolParam] = [
        {"name": "get_weather", "input_schema": {"type": "object"}}
    ]
    kwargs: dict[str, Any] = {"model": "azure_openai/gpt-4.1", "max_tokens": 64, "tools": tools}
    if stream:
        with client.messages.stream(messages=HI, **kwargs) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(messages=HI, **kwargs)
    assert message.stop_reason == "tool_use"
    assert [(b.type, getattr(b, "input", None)) for b in message.content] == [
        ("tool_use", {"city": "Paris"})
    ]
    (received,) = azure.front.received
    assert received.path == "/openai/v1/chat/completions"
    assert received.query == {}
    assert received.body["model"] == "chat-prod"


def test_a_model_not_mapped_is_its_own_deployment(azure: Azure) -> None:
    client = azure.gateway(api_key=RESOURCE_KEY)
    azure.openai.enqueue(Answer(content=["ok"]))
    ask(client, stream=False, model="azure_openai/gpt-4o")
    assert azure.front.received[0].path == "/openai/deployments/gpt-4o/chat/completions"


# --- Entra ID tokens from the managed identity ---------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_the_system_assigned_identity_signs_with_a_bearer_token(azure: Azure, stream: bool) -> None:
    client = azure.gateway(enabled=True)
    azure.openai.enqueue(Answer(content=["signed"]))
    assert ask(client, stream).content[0].text == "signed"
    (received,) = azure.front.received
    token = received.headers["Authorization"].removeprefix("Bearer ")
    assert azure.identity.principal_of(token, AUDIENCE) == SYSTEM_PRINCIPAL
    assert "api-key" not in received.headers
    assert [(r.resource, r.client_id) for r in azure.identity.requests] == [(AUDIENCE, None)]


def test_a_user_assigned_identity_is_asked_for_by_client_id(azure: Azure) -> None:
    client = azure.gateway(enabled=True, client_id=UAMI)
    azure.openai.enqueue(Answer(content=["ok"]))
    ask(client, stream=False)
    token = azure.front.received[0].headers["Authorization"].removeprefix("Bearer ")
    assert azure.identity.principal_of(token, AUDIENCE) == UAMI_PRINCIPAL
    assert [r.client_id for r in azure.identity.requests] == [UAMI]


def test_an_identity_without_the_role_is_a_403_naming_it(azure: Azure) -> None:
    client = azure.gateway(enabled=True, client_id=UNGRANTED)
    error = refused(client)
    assert error.status_code == 403
    assert isinstance(error.body, dict)
    assert error.body["error"]["type"] == "permission_error"
    message = error.body["error"]["message"]
    assert "Cognitive Services OpenAI User" in message
    assert "deployments/chat/completions/action" in message
    assert azure.front.refusals == [(401, "PermissionDenied")]


def test_an_identity_that_cannot_be_resolved_is_named_on_the_request(azure: Azure) -> None:
    client = azure.gateway(enabled=True, client_id="not-an-identity-of-this-app")
    error = refused(client)
    assert error.status_code == 500
    assert isinstance(error.body, dict)
    assert "Unable to load the proper Managed Identity" in error.body["error"]["message"]
    assert azure.front.received == []  # nothing unsigned was sent


# --- Azure's own refusals ---------------------------------------------------------------------


def test_a_wrong_key_is_a_401_naming_the_setting(azure: Azure) -> None:
    error = refused(azure.gateway(api_key="not-the-resource-key"))
    assert error.status_code == 401
    assert "providers.azure_openai.api_key" in str(error.body)
    assert "not-the-resource-key" not in error.response.text


def test_an_unknown_deployment_is_a_404_naming_the_mapping(azure: Azure) -> None:
    client = azure.gateway(api_key=RESOURCE_KEY, deployments={"gpt-4.1": "typo"})
    error = refused(client)
    assert error.status_code == 404
    assert "providers.azure_openai.deployments" in str(error.body)
    assert azure.front.refusals == [(404, "DeploymentNotFound")]


def test_an_api_version_azure_does_not_serve_is_named(azure: Azure) -> None:
    client = azure.gateway(api_key=RESOURCE_KEY, api_version="2023-01-01")
    error = refused(client)
    assert error.status_code == 404
    assert "providers.azure_openai.api_version" in str(error.body)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_the_content_filter_is_a_400_naming_the_category(azure: Azure, stream: bool) -> None:
    client = azure.gateway(api_key=RESOURCE_KEY)
    azure.front.filter_next(Filtered({"violence": "high"}))
    error = refused(client, stream)
    assert error.status_code == 400
    assert "content filter" in str(error.body) and "violence: high" in str(error.body)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_an_answer_cut_by_the_output_filter_is_a_refusal(azure: Azure, stream: bool) -> None:
    # Azure's filter on the completion ends it with finish_reason "content_filter".
    client = azure.gateway(api_key=RESOURCE_KEY)
    azure.openai.enqueue(Answer(content=["Here is how"], finish_reason="content_filter"))
    message = ask(client, stream)
    assert message.stop_reason == "refusal"
    assert [block.text for block in message.content] == ["Here is how"]


def test_a_rate_limit_keeps_azures_retry_after(azure: Azure) -> None:
    client = azure.gateway(api_key=RESOURCE_KEY)
    azure.openai.enqueue(rate_limited("7"))
    error = refused(client)
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "7"


# --- the fake refuses what Azure refuses ---------------------------------------------------


def test_the_fake_refuses_a_missing_api_version_and_a_foreign_token(azure: Azure) -> None:
    url = f"{azure.base_url}/openai/deployments/chat-prod/chat/completions"
    body = {"messages": [{"role": "user", "content": "hi"}]}
    missing = httpx.post(url, json=body, headers={"api-key": RESOURCE_KEY})
    assert (missing.status_code, missing.json()["error"]["message"]) == (404, "Resource not found")
    foreign = httpx.post(
        url, params={"api-version": "2024-10-21"}, json=body, headers={"authorization": "Bearer x"}
    )
    assert foreign.status_code == 401
    assert foreign.json()["error"]["message"].startswith("Access denied")


# --- the key from Key Vault ---------------------------------------------------------------------


class StaticCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(TOKEN, 4_102_444_800)


def test_the_key_vault_secret_is_named_azure_openai_api_key(tmp_path: Path) -> None:
    vault = FakeKeyVault()
    vault.secrets["azure-openai-api-key"] = RESOURCE_KEY
    with serve_tls(vault, tmp_path) as (url, ca_file):
        environ = {"AI_PROXY_SECRETS__SOURCE": "azure", "AI_PROXY_SECRETS__AZURE_VAULT_URL": url}
        source = AzureSecretSource(
            load_config(environ=environ).secrets,
            credential=StaticCredential(),
            connection_verify=str(ca_file),
            verify_challenge_resource=False,
        )
        try:
            keys = source.load()
        finally:
            source._client.close()
    assert keys == {"azure_openai": RESOURCE_KEY}
    assert "azure-openai-api-key" in vault.reads
