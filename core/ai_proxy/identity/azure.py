"""Microsoft Entra ID tokens for Azure OpenAI, from the platform's managed identity.

Which azure-identity credential, and why:

- A managed identity is what every Azure host we deploy to gives us (App Service and
  Functions: IDENTITY_ENDPOINT + IDENTITY_HEADER; Container Apps, Arc, VMs and AKS node
  identities: the same variables or IMDS), so when the platform advertises one, or a
  user-assigned identity is named (`client_id`), `ManagedIdentityCredential` is used directly.
- AKS workload identity (AZURE_FEDERATED_TOKEN_FILE, mounted by its webhook) is a federated
  service account, not a managed identity endpoint: `WorkloadIdentityCredential`.
- Otherwise (a VM or cluster relying on IMDS without saying so, a service principal in
  AZURE_CLIENT_ID / AZURE_CLIENT_SECRET) `DefaultAzureCredential`, with the developer-tool
  probes (Azure CLI, PowerShell, azd, VS Code, the shared cache, the broker) left out: each
  spawns a process or reads a desktop cache, seconds of cold start on a server where none
  of them can answer. A developer opts back in with the library's own switch,
  AZURE_TOKEN_CREDENTIALS=dev (or a credential's name), which we then leave alone.

The credential is made on the first fetch (in the start-up thread), not at construction: the
environment it reads is the platform's at start-up, and nothing imports azure.identity unless
Azure OpenAI is enabled without a key.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .base import Fetched, Identity

if TYPE_CHECKING:
    from ..providers.base import UpstreamRequest

# The audience Azure OpenAI (every Cognitive Services data plane) accepts tokens for.
COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
# Set by the AKS workload identity webhook in every pod whose service account opts in.
WORKLOAD_TOKEN_FILE = "AZURE_FEDERATED_TOKEN_FILE"
# Set by hosts that serve a managed identity endpoint (App Service, Functions, Container Apps,
# Arc, Service Fabric: IDENTITY_ENDPOINT; Cloud Shell and Azure ML: MSI_ENDPOINT).
MANAGED_IDENTITY_ENDPOINTS = ("IDENTITY_ENDPOINT", "MSI_ENDPOINT")
# azure-identity's own choice of credentials for DefaultAzureCredential.
CHAIN_SWITCH = "AZURE_TOKEN_CREDENTIALS"
DEVELOPER_TOOLS_OFF = {
    "exclude_cli_credential": True,
    "exclude_powershell_credential": True,
    "exclude_developer_cli_credential": True,
    "exclude_visual_studio_code_credential": True,
    "exclude_shared_token_cache_credential": True,
    "exclude_interactive_browser_credential": True,
    "exclude_broker_credential": True,
}


class AzureIdentity(Identity[str]):
    """An Entra ID access token (the material) for `https://cognitiveservices.azure.com`."""

    def __init__(
        self, provider: str, client_id: str | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(provider, clock)
        self._client_id = client_id
        # Read once, as the platform set it at start-up; the credential reads the same.
        self.credential_kind = _credential_kind(os.environ, client_id)
        self._credential: Any = None

    @property
    def description(self) -> str:
        if self.credential_kind == "managed identity" and self._client_id:
            return f"the Azure managed identity with client id {self._client_id}"
        return f"the Azure {self.credential_kind}"

    def fetch(self) -> Fetched[str]:
        if self._credential is None:
            self._credential = self.new_credential()
        token = self._credential.get_token(COGNITIVE_SERVICES_SCOPE)
        return Fetched(token.token, float(token.expires_on), secrets=(token.token,))

    def sign(self, request: UpstreamRequest, material: str) -> None:
        request.headers["authorization"] = f"Bearer {material}"

    def new_credential(self) -> Any:
        """The azure-identity credential this environment calls for (made once, by `fetch`)."""
        from azure.identity import (
            DefaultAzureCredential,
            ManagedIdentityCredential,
            WorkloadIdentityCredential,
        )

        if self.credential_kind == "workload identity":
            # Without a configured client id, AZURE_CLIENT_ID (set by the webhook) names it.
            if self._client_id:
                return WorkloadIdentityCredential(client_id=self._client_id)
            return WorkloadIdentityCredential()
        if self.credential_kind == "managed identity":
            return ManagedIdentityCredential(client_id=self._client_id)
        if os.environ.get(CHAIN_SWITCH):
            return DefaultAzureCredential()  # the operator chose the chain
        return DefaultAzureCredential(**DEVELOPER_TOOLS_OFF)


def _credential_kind(environ: Mapping[str, str], client_id: str | None) -> str:
    """Which credential the environment calls for (see the module docstring)."""
    if environ.get(WORKLOAD_TOKEN_FILE):
        return "workload identity"
    if client_id or any(environ.get(name) for name in MANAGED_IDENTITY_ENDPOINTS):
        return "managed identity"
    return "default credential chain (environment, workload and managed identity)"
