"""AzureIdentity: the real azure-identity against a fake App Service managed identity endpoint
over HTTP on 127.0.0.1; which credential each platform gets; refresh before expiry."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from ai_proxy.errors import ProviderNotConfigured
from ai_proxy.identity.azure import AzureIdentity
from ai_proxy.logs import redact_known
from ai_proxy.providers.base import UpstreamRequest
from azure.identity import (
    AzureCliCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

from tests.fakes.azure_identity_endpoint import SYSTEM_PRINCIPAL, FakeManagedIdentity

AUDIENCE = "https://cognitiveservices.azure.com"
UAMI = "11111111-2222-3333-4444-555555555555"
PLATFORM_VARIABLES = (
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TOKEN_CREDENTIALS",
)


@pytest.fixture(autouse=True)
def bare_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PLATFORM_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeManagedIdentity]:
    fake = FakeManagedIdentity(user_assigned={UAMI: "principal-of-the-uami"})
    with fake.serve():
        for name, value in fake.environ().items():
            monkeypatch.setenv(name, value)
        yield fake


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def signed(identity: AzureIdentity) -> str:
    request = UpstreamRequest("https://contoso.openai.azure.com/x", {}, b"")
    identity.authorize(request)
    return request.headers["authorization"]


# --- which credential ---------------------------------------------------------------------------


def test_app_service_gets_the_managed_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "secret")
    identity = AzureIdentity("azure_openai")
    assert isinstance(identity.new_credential(), ManagedIdentityCredential)
    assert identity.description == "the Azure managed identity"


def test_a_client_id_means_that_user_assigned_identity() -> None:
    identity = AzureIdentity("azure_openai", client_id=UAMI)
    assert isinstance(identity.new_credential(), ManagedIdentityCredential)
    assert UAMI in identity.description


def test_aks_workload_identity_gets_the_workload_credential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/token")
    monkeypatch.setenv("AZURE_TENANT_ID", "00000000-0000-0000-0000-0000000000aa")
    monkeypatch.setenv("AZURE_CLIENT_ID", UAMI)
    identity = AzureIdentity("azure_openai")
    assert isinstance(identity.new_credential(), WorkloadIdentityCredential)
    assert identity.description == "the Azure workload identity"


def test_elsewhere_the_default_chain_skips_the_developer_tools() -> None:
    credential = AzureIdentity("azure_openai").new_credential()
    assert isinstance(credential, DefaultAzureCredential)
    kinds = {type(member).__name__ for member in credential.credentials}
    assert "ManagedIdentityCredential" in kinds and "EnvironmentCredential" in kinds
    assert not any(isinstance(member, AzureCliCredential) for member in credential.credentials)


def test_the_library_switch_brings_the_developer_tools_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "dev")
    credential = AzureIdentity("azure_openai").new_credential()
    assert any(isinstance(member, AzureCliCredential) for member in credential.credentials)


# --- tokens from the platform's endpoint -------------------------------------------------------


def test_system_assigned_token_signs_the_request(endpoint: FakeManagedIdentity) -> None:
    identity = AzureIdentity("azure_openai")
    assert identity.load()
    header = signed(identity)
    scheme, token = header.split(" ")
    assert scheme == "Bearer"
    assert endpoint.principal_of(token, AUDIENCE) == SYSTEM_PRINCIPAL
    (asked,) = endpoint.requests
    assert asked.resource == AUDIENCE and asked.client_id is None
    # Every token is registered for redaction in log lines.
    assert token not in redact_known(f"sent {header}")


def test_user_assigned_token_is_asked_by_client_id(endpoint: FakeManagedIdentity) -> None:
    identity = AzureIdentity("azure_openai", client_id=UAMI)
    assert identity.load()
    token = signed(identity).removeprefix("Bearer ")
    assert endpoint.principal_of(token, AUDIENCE) == "principal-of-the-uami"
    assert [asked.client_id for asked in endpoint.requests] == [UAMI]


def test_an_unknown_identity_is_a_log_line_then_a_named_error(
    endpoint: FakeManagedIdentity, caplog: pytest.LogCaptureFixture
) -> None:
    identity = AzureIdentity("azure_openai", client_id="not-assigned-to-this-app")
    with caplog.at_level(logging.WARNING, logger="ai_proxy.identity"):
        assert not identity.load()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "ai_proxy.identity"]
    assert "azure_openai upstream: no credentials from the Azure managed identity" in line
    with pytest.raises(ProviderNotConfigured, match="not-assigned-to-this-app") as raised:
        signed(identity)
    assert "Unable to load the proper Managed Identity" in raised.value.message


def test_a_short_lived_token_is_replaced_before_it_expires() -> None:
    endpoint = FakeManagedIdentity(lifetime=120)  # under the 5 minutes MSAL caches for
    clock = Clock()
    with endpoint.serve(), pytest.MonkeyPatch.context() as patch:
        for name, value in endpoint.environ().items():
            patch.setenv(name, value)
        identity = AzureIdentity("azure_openai", clock=clock)
        assert identity.load()
        first = signed(identity)
        start = clock.now
        # Shorter than twice the 5-minute margin: refreshed at half its life.
        clock.now = start + 59
        assert not identity.due
        clock.now = start + 63
        assert identity.due
        identity.refresh_if_due()
        second = signed(identity)
    assert first != second
    assert len(endpoint.requests) == 2
    assert endpoint.principal_of(second.removeprefix("Bearer "), AUDIENCE) == SYSTEM_PRINCIPAL


def test_an_hour_long_token_is_refreshed_five_minutes_early(
    endpoint: FakeManagedIdentity,
) -> None:
    clock = Clock()
    identity = AzureIdentity("azure_openai", clock=clock)
    assert identity.load()
    start = clock.now
    clock.now = start + 3290
    assert not identity.due
    clock.now = start + 3310
    assert identity.due
    # A token past its expiry is never sent, even when no refresh succeeded.
    clock.now = start + 3601
    with pytest.raises(ProviderNotConfigured, match="no usable credentials"):
        signed(identity)


# --- nothing imported unless enabled -----------------------------------------------------------
