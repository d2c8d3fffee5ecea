"""The conformance harnesses for OpenAI on Azure: the OpenAI harness's scenarios, reached
through the fake Azure front door (tests.fakes.azure_openai) in front of the fake OpenAI.

- `AzureOpenAIHarness`: the resource's key, a dated api-version, deployments by name.
- `AzureOpenAIEntraHarness`: no key; the managed identity's Entra ID token (the real
  azure-identity against the fake App Service endpoint) and the v1 API.

Everything the client sees is what OpenAI's answers make, so the expectations are the OpenAI
harness's; the upstream errors are the ones Azure itself sends in their place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

from tests.environment import patched_environ
from tests.fakes.azure_identity_endpoint import FakeManagedIdentity
from tests.fakes.azure_openai import RESOURCE_KEY, FakeAzureOpenAI
from tests.fakes.openai import ErrorReply

from .harness import ErrorKind, ExpectedError
from .openai_harness import OpenAIHarness

# Deployments named by their owner, not after the model: the mapping is exercised.
DEPLOYMENTS = {"gpt-4.1": "chat-prod", "o4-mini": "reasoner"}


class AzureOpenAIHarness(OpenAIHarness):
    provider = "azure_openai"
    api_key = RESOURCE_KEY
    model = "azure_openai/gpt-4.1"
    thinking_model = "azure_openai/o4-mini"
    api_version = "2024-10-21"

    def __init__(self, identity: FakeManagedIdentity | None = None) -> None:
        super().__init__()
        self.identity = identity
        self.azure = FakeAzureOpenAI(
            self.fake, deployments={v: k for k, v in DEPLOYMENTS.items()}, identity=identity
        )

    def provider_table(self, base_url: str) -> dict[str, Any]:
        return {
            "base_url": base_url,
            "api_key": self.api_key,
            "api_version": self.api_version,
            "deployments": DEPLOYMENTS,
        }

    @contextmanager
    def serve(self) -> Iterator[str]:
        with self.azure.serve() as base_url:
            yield base_url

    def reset(self) -> None:
        super().reset()
        self.azure.reset()

    def check_clean(self) -> None:
        super().check_clean()
        assert self.azure.refusals == [], "the gateway sent a request Azure would refuse"

    def error(self, kind: ErrorKind) -> ExpectedError:
        # What the fake OpenAI is scripted to answer; the front door answers the 401 and the
        # 404 in Azure's own words (an invalid key, DeploymentNotFound).
        match kind:
            case "upstream_auth":
                reply = ErrorReply(401, "reshaped by the front door")
                return ExpectedError(reply, 401, "authentication_error", message_contains="key")
            case "not_found":
                reply = ErrorReply(404, "reshaped by the front door", code="model_not_found")
                return ExpectedError(
                    reply, 404, "not_found_error", message_contains="providers.azure_openai"
                )
            case _:
                return super().error(kind)


class AzureOpenAIEntraHarness(AzureOpenAIHarness):
    api_version = "v1"

    def __init__(self) -> None:
        identity = FakeManagedIdentity()
        super().__init__(identity)
        # What must never show in an answer: the platform's endpoint secret (each token
        # is registered for redaction by the gateway itself).
        self.api_key = identity.secret

    def provider_table(self, base_url: str) -> dict[str, Any]:
        return {
            "base_url": base_url,
            "enabled": True,
            "api_version": self.api_version,
            "deployments": DEPLOYMENTS,
        }

    @contextmanager
    def serve(self) -> Iterator[str]:
        assert self.identity is not None
        with ExitStack() as stack:
            stack.enter_context(self.identity.serve())
            yield stack.enter_context(self.azure.serve())

    def platform(self) -> AbstractContextManager[None]:
        assert self.identity is not None
        return patched_environ(self.identity.environ())

    def check_clean(self) -> None:
        super().check_clean()
        assert self.identity is not None
        assert self.identity.refused == 0, "the managed identity endpoint refused a request"
