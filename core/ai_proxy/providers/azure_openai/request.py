"""Where an Azure OpenAI call goes, and what names the model there.

Azure serves the OpenAI Chat Completions wire format behind two URL forms:

- a dated `api_version` (e.g. 2024-10-21): `/openai/deployments/{deployment}/chat/completions
  ?api-version=...`; the deployment in the path picks the model, so the body carries none;
- `"v1"`, the versionless API (GA since August 2025): `/openai/v1/chat/completions`, no
  api-version, the deployment's name in the body's `model`, as the OpenAI SDK sends it.

Deployments have names of their owner's choosing: `deployments` maps a model to its
deployment, and a model not listed is taken to be deployed under its own name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

V1 = "v1"


@dataclass(frozen=True, slots=True)
class AzureEndpoint:
    base_url: str
    api_version: str
    deployments: Mapping[str, str]

    def deployment_for(self, model: str) -> str:
        return self.deployments.get(model, model)

    def chat_completions_url(self, deployment: str) -> str:
        if self.api_version == V1:
            return f"{self.base_url}/openai/v1/chat/completions"
        return (
            f"{self.base_url}/openai/deployments/{quote(deployment, safe='')}/chat/completions"
            f"?api-version={quote(self.api_version, safe='')}"
        )

    def to_azure_body(self, body: dict[str, Any], deployment: str) -> dict[str, Any]:
        """The translated OpenAI body with the model named as this URL form wants it."""
        rest = {key: value for key, value in body.items() if key != "model"}
        return {"model": deployment, **rest} if self.api_version == V1 else rest
