"""The conformance harness for Claude on Amazon Bedrock, over tests.fakes.bedrock.

Bedrock serves Anthropic's Messages semantics, so the scenarios and what upstream received are
the pass-through's (AnthropicHarness); what differs is the wire around them (SigV4 from the
AWS credential chain, Bedrock's body rules, eventstream frames) and Bedrock's own errors.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from tests.environment import patched_environ
from tests.fakes.anthropic import error_reply, rate_limited
from tests.fakes.bedrock import REGION, TEST_CREDENTIALS, BedrockError, FakeBedrock
from tests.fakes.sigv4 import INVALID_TOKEN

from .anthropic_harness import AnthropicHarness
from .harness import ErrorKind, ExpectedError, Sent

# What the gateway's process reads while it starts: the test credentials, nothing of this
# machine's (no profile files, no instance metadata lookups).
PLATFORM_ENV = {
    "AWS_ACCESS_KEY_ID": TEST_CREDENTIALS.access_key,
    "AWS_SECRET_ACCESS_KEY": TEST_CREDENTIALS.secret_key,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


class BedrockHarness(AnthropicHarness):
    provider = "bedrock"
    # An inference profile (`us.` in front, `:0` in the id), named as provider/model.
    model = "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    thinking_model = model

    def __init__(self, client_keys: Sequence[str] = ()) -> None:
        self.bedrock = FakeBedrock(client_keys=client_keys)
        self.fake = self.bedrock.inner
        # What must never reach a client: the secret the gateway signs with.
        self.api_key = TEST_CREDENTIALS.secret_key

    def provider_table(self, base_url: str) -> dict[str, Any]:
        return {"enabled": True, "region": REGION, "base_url": base_url}

    def platform(self) -> AbstractContextManager[None]:
        return patched_environ(PLATFORM_ENV)

    @contextmanager
    def serve(self) -> Iterator[str]:
        with self.bedrock:
            yield self.bedrock.base_url

    def reset(self) -> None:
        self.bedrock.reset()

    def check_clean(self) -> None:
        assert self.bedrock.leaks == [], "a client key reached the upstream"
        assert self.bedrock.refusals == [], f"bedrock refused: {self.bedrock.refusals}"
        super().check_clean()
        assert self.bedrock.pending == 0, "unused Bedrock replies"

    def enqueue(self, *replies: object) -> None:
        self.bedrock.enqueue(*replies)  # type: ignore[arg-type]

    @property
    def requests(self) -> list[Sent]:
        return [
            Sent(r.json, r.operation == "InvokeModelWithResponseStream", prompt=r.json)
            for r in self.bedrock.requests
            if r.json is not None and r.operation != "CountTokens"
        ]

    def error(self, kind: ErrorKind) -> ExpectedError:
        # The inner fake's errors, answered as Bedrock's exceptions (tests.fakes.bedrock).
        # Invalid requests, a prompt over the window ("Input is too long for requested
        # model." in Anthropic's words), 5xx and overload come out as Anthropic's would.
        match kind:
            case "not_found":
                reply = error_reply(404, "not_found_error", "model: claude-nope")
                return ExpectedError(reply, 404, "not_found_error")
            case "upstream_auth":
                refused = BedrockError(403, "UnrecognizedClientException", INVALID_TOKEN)
                return ExpectedError(refused, 401, "authentication_error")
            case "rate_limited":
                # Bedrock's ThrottlingException carries no Retry-After.
                return ExpectedError(rate_limited("7"), 429, "rate_limit_error")
        return super().error(kind)
