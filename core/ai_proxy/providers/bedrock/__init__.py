"""Claude on Amazon Bedrock: Anthropic's Messages body under Bedrock's rules, signed with
SigV4 from the AWS credential chain (or sent with a Bedrock API key), streamed back in AWS
eventstream frames and relayed as Anthropic's SSE."""

from __future__ import annotations

import os
from collections.abc import Mapping

import orjson

from ...anthropic.envelope import ClientRequest
from ...config import BedrockConfig, ProviderConfig
from ...errors import GatewayError, ProviderNotConfigured, UpstreamError
from ...identity.aws import AwsIdentity
from ..anthropic.betas import Betas
from ..base import Provider, Reply, RequestContext, UpstreamRequest
from .errors import from_bedrock_error
from .request import (
    EVENTSTREAM,
    count_tokens_path,
    invoke_path,
    to_bedrock_body,
    to_count_tokens_body,
)
from .stream import EventStreamReply


class BedrockProvider(Provider):
    name = "bedrock"
    key_setting = "providers.bedrock.api_key"
    identity_setting = "providers.bedrock.enabled"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        if not isinstance(config, BedrockConfig):
            raise TypeError(f"bedrock needs a BedrockConfig, not {type(config).__name__}")
        # Lambda and ECS set AWS_REGION; AWS_DEFAULT_REGION is the CLI's older name.
        self.region = (
            config.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        )
        if config.enabled and not config.api_key:
            self.identity = AwsIdentity(self.name, self.region)
        self._betas = Betas(self.name, config.betas)

    @property
    def base_url(self) -> str:
        if self.config.base_url:
            return self.config.base_url
        return f"https://bedrock-runtime.{self.region}.amazonaws.com" if self.region else ""

    def build_request(
        self, request: ClientRequest, context: RequestContext, api_key: str
    ) -> UpstreamRequest:
        return UpstreamRequest(
            url=self._url(invoke_path(context.upstream_model, request.stream)),
            headers=_headers(api_key, EVENTSTREAM if request.stream else "application/json"),
            body=to_bedrock_body(request.body, self._betas.forwarded(context.forward_headers)),
            stream=request.stream,
            stream_content_type=EVENTSTREAM,
        )

    def new_reply(self, context: RequestContext) -> Reply:
        return EventStreamReply(context.client_model)

    def build_count_tokens_request(
        self, request: ClientRequest, context: RequestContext, api_key: str
    ) -> UpstreamRequest:
        return UpstreamRequest(
            url=self._url(count_tokens_path(context.upstream_model)),
            headers=_headers(api_key, "application/json"),
            body=to_count_tokens_body(request.body, self._betas.forwarded(context.forward_headers)),
        )

    def parse_count_tokens(self, body: bytes) -> int:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
        tokens = payload.get("inputTokens") if isinstance(payload, dict) else None
        if not isinstance(tokens, int):
            raise UpstreamError(f"bedrock CountTokens answered without inputTokens: {body[:200]!r}")
        return tokens

    def error_from_response(
        self, status: int, headers: Mapping[str, str], body: bytes
    ) -> GatewayError:
        return from_bedrock_error(status, headers, body)

    def _url(self, path: str) -> str:
        base_url = self.base_url
        if not base_url:
            raise ProviderNotConfigured(
                "bedrock has no AWS region: set providers.bedrock.region "
                "(AI_PROXY_PROVIDERS__BEDROCK__REGION), AWS_REGION or AWS_DEFAULT_REGION"
            )
        return base_url + path


def _headers(api_key: str, accept: str) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": accept}
    if api_key:
        # A Bedrock API key: bearer auth instead of SigV4 (the identity then signs nothing).
        headers["authorization"] = f"Bearer {api_key}"
    return headers
