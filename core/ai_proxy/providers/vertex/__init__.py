"""Gemini and Claude on Google Cloud's Vertex AI, with the platform's own credentials.

    {base}/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}

A model whose name starts with `claude` is Anthropic's publisher: the Anthropic pass-through's
body (`anthropic_version` in it, no `model`) to `:rawPredict` / `:streamRawPredict`, its answer
relayed as it came. Any other model is Google's publisher: the Gemini translation unchanged,
to `:generateContent` / `:streamGenerateContent?alt=sse`. What differs from those providers is
only the URL and the credentials (an OAuth token from ADC, ai_proxy.identity.gcp): their
translation, counting and error reading are used as they are.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import quote

import orjson

from ...anthropic.envelope import ClientRequest
from ...config import ProviderConfig, VertexConfig
from ...errors import GatewayError, ProviderNotConfigured
from ...identity.gcp import GoogleIdentity
from ..anthropic import AnthropicProvider
from ..anthropic.betas import Betas
from ..anthropic.request import to_cloud_claude_body
from ..base import Provider, Reply, RequestContext, UpstreamRequest
from ..gemini import GeminiProvider
from ..gemini.request import to_gemini_prompt, to_gemini_request
from .errors import PERMISSION, ROLE, from_vertex_error

ANTHROPIC_VERSION = "vertex-2023-10-16"


class VertexProvider(Provider):
    name = "vertex"
    key_setting = None
    identity_setting = "providers.vertex.enabled"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        assert isinstance(config, VertexConfig)
        self.vertex = config
        self.google_identity = (
            GoogleIdentity(self.name, permission=(PERMISSION, ROLE), project=config.project)
            if config.enabled
            else None
        )
        self.identity = self.google_identity
        # The same wire formats as theirs: these read answers, count and map errors.
        self._gemini = GeminiProvider(config)
        self._claude = AnthropicProvider(config)
        # Claude on Vertex takes betas in the header, as Anthropic's API does, but only its own.
        self._betas = Betas(self.name, config.betas)

    @property
    def base_url(self) -> str:
        if self.vertex.base_url:
            return self.vertex.base_url
        if self.vertex.location == "global":
            return "https://aiplatform.googleapis.com"
        return f"https://{self.vertex.location}-aiplatform.googleapis.com"

    def resource(self, publisher: str, model: str) -> str:
        """The model's resource name, as IAM and Vertex's errors name it."""
        return (
            f"projects/{quote(self._project(), safe='')}/locations/"
            f"{quote(self.vertex.location, safe='')}/publishers/{publisher}/models/"
            f"{quote(model, safe='@')}"
        )

    def build_request(
        self, request: ClientRequest, context: RequestContext, api_key: str
    ) -> UpstreamRequest:
        model = context.upstream_model
        if _is_claude(model):
            body = to_cloud_claude_body(request.body, ANTHROPIC_VERSION, without=())
            method = "streamRawPredict" if request.stream else "rawPredict"
            built = self._request("anthropic", model, method, body, context, request.stream)
            if betas := self._betas.forwarded(context.forward_headers):
                built.headers["anthropic-beta"] = ",".join(betas)
            return built
        method = "streamGenerateContent?alt=sse" if request.stream else "generateContent"
        body = orjson.dumps(to_gemini_request(request.messages(), model))
        return self._request("google", model, method, body, context, stream=request.stream)

    def build_count_tokens_request(
        self, request: ClientRequest, context: RequestContext, api_key: str
    ) -> UpstreamRequest:
        model = context.upstream_model
        if _is_claude(model):
            # One counting endpoint for every Claude model, named in the body as Anthropic's is.
            body = to_cloud_claude_body(request.body, ANTHROPIC_VERSION, without=(), model=model)
            # No betas: Vertex's counting endpoint refuses every `anthropic-beta` value.
            return self._request("anthropic", "count-tokens", "rawPredict", body, context)
        prompt = to_gemini_prompt(request.count_tokens(), model)
        # Vertex's CountTokensRequest is the prompt itself (generativelanguage wraps it in a
        # generateContentRequest) and has no toolConfig, which changes no count anyway.
        prompt.pop("toolConfig", None)
        return self._request("google", model, "countTokens", orjson.dumps(prompt), context)

    def parse_count_tokens(self, body: bytes) -> int:
        # Each publisher answers in its own provider's shape (and each provider says what
        # is wrong with an answer that is neither).
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
        claude = isinstance(payload, dict) and "input_tokens" in payload
        return (self._claude if claude else self._gemini).parse_count_tokens(body)

    def new_reply(self, context: RequestContext) -> Reply:
        publisher = self._claude if _is_claude(context.upstream_model) else self._gemini
        return publisher.new_reply(context)

    def error_from_response(
        self, status: int, headers: Mapping[str, str], body: bytes
    ) -> GatewayError:
        return from_vertex_error(status, headers, body)

    def _project(self) -> str:
        identity = self.google_identity
        project = (
            self.vertex.project
            or os.environ.get("GOOGLE_CLOUD_PROJECT")
            or (identity.project if identity is not None else None)
        )
        if not project:
            if identity is not None:
                # No credentials, no project from them either: what is wrong with the
                # credentials is the error to show.
                identity.usable()
            raise ProviderNotConfigured(
                "vertex has no project: set providers.vertex.project or GOOGLE_CLOUD_PROJECT "
                "(the credentials named none)"
            )
        return project

    def _request(
        self,
        publisher: str,
        model: str,
        method: str,
        body: bytes,
        context: RequestContext,
        stream: bool = False,
    ) -> UpstreamRequest:
        headers = {"content-type": "application/json", "x-request-id": context.request_id}
        return UpstreamRequest(
            url=f"{self.base_url}/v1/{self.resource(publisher, model)}:{method}",
            headers=headers,
            body=body,
            stream=stream,
        )


def _is_claude(model: str) -> bool:
    return model.startswith("claude")
