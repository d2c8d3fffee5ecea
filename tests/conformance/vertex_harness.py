"""The conformance harnesses for Vertex AI: Gemini and Claude behind tests.fakes.vertex.

Each runs its provider's own harness (the same scenarios, the same reading of what the model
received) with the fake Vertex in front of that provider's fake: the gateway reaches it with a
token google-auth got from the fake metadata server. Only the errors differ where Vertex's
platform answers before the model does (authentication, quota, an unknown model), in Google's
shape and without a Retry-After.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.fakes import vertex as fake_vertex
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gcp_metadata import FakeGoogleAuth, google_auth_env
from tests.fakes.gemini import FakeGemini
from tests.fakes.vertex import FakeVertex

from .anthropic_harness import AnthropicHarness
from .gemini_harness import GeminiHarness
from .harness import ErrorKind, ExpectedError

LOCATION = "us-east5"


class _OnVertex:
    """What both harnesses share: the fake Vertex in front of `self.fake`, its platform."""

    provider = "vertex"
    vertex: FakeVertex

    @property
    def api_key(self) -> str:
        """What must never reach a client: the gateway's current access token."""
        return self.vertex.google.tokens.latest or "no-token-issued-yet"

    def provider_table(self, base_url: str) -> dict[str, Any]:
        return {
            "enabled": True,
            "project": self.vertex.project,
            "location": LOCATION,
            "base_url": base_url,
        }

    @contextmanager
    def platform(self) -> Iterator[None]:
        with (
            tempfile.TemporaryDirectory() as config_dir,
            google_auth_env(self.vertex.google, Path(config_dir)),
        ):
            yield

    @contextmanager
    def serve(self) -> Iterator[str]:
        with self.vertex:
            yield self.vertex.base_url

    def reset(self) -> None:
        self.vertex.reset()

    def enqueue(self, *replies: object) -> None:
        self.vertex.enqueue(*replies)

    def platform_error(self, kind: ErrorKind, resource: str) -> ExpectedError | None:
        """Errors Vertex's platform answers itself, for either publisher."""
        match kind:
            case "upstream_auth":
                # The gateway's token refused: 401 UNAUTHENTICATED, not the model's own 401.
                return ExpectedError(fake_vertex.unauthenticated(), 401, "authentication_error")
            case "not_found":
                reply = fake_vertex.model_not_found(resource)
                return ExpectedError(reply, 404, "not_found_error")
        return None


# KeyedUpstream's `api_key` is a key the harness holds; on Vertex it is the token of the day.
class VertexGeminiHarness(_OnVertex, GeminiHarness):  # type: ignore[override]
    model = "vertex/gemini-2.5-flash"
    thinking_model = "vertex/gemini-2.5-flash"

    def __init__(self) -> None:
        self.fake = FakeGemini()
        self.vertex = FakeVertex(FakeGoogleAuth(), gemini=self.fake, location=LOCATION)

    def check_clean(self) -> None:
        assert self.vertex.pending == 0, f"unused replies; last: {self.vertex.requests[-1:]}"

    def error(self, kind: ErrorKind) -> ExpectedError:
        resource = (
            f"projects/{self.vertex.project}/locations/{LOCATION}/publishers/google/models/"
            "gemini-2.5-flash"
        )
        if kind == "rate_limited":
            # Vertex's 429 carries no RetryInfo (generativelanguage's does): nothing to relay.
            return ExpectedError(fake_vertex.resource_exhausted(), 429, "rate_limit_error")
        return self.platform_error(kind, resource) or super().error(kind)


class VertexClaudeHarness(_OnVertex, AnthropicHarness):  # type: ignore[override]
    model = "vertex/claude-sonnet-4-5@20250929"
    thinking_model = "vertex/claude-sonnet-4-5@20250929"

    def __init__(self) -> None:
        self.fake = FakeAnthropic()
        self.vertex = FakeVertex(FakeGoogleAuth(), anthropic=self.fake, location=LOCATION)

    def check_clean(self) -> None:
        assert self.fake.leaks == [], "a client key reached the upstream"
        assert self.vertex.pending == 0, f"unused replies; last: {self.vertex.requests[-1:]}"

    def error(self, kind: ErrorKind) -> ExpectedError:
        resource = (
            f"projects/{self.vertex.project}/locations/{LOCATION}/publishers/anthropic/models/"
            "claude-sonnet-4-5@20250929"
        )
        if kind == "rate_limited":
            # Claude's rate limit on Vertex is the project's quota, said by the platform
            # (the fake Vertex rewords Anthropic's 429), with no Retry-After.
            expected = super().error(kind)
            return ExpectedError(expected.reply, 429, "rate_limit_error")
        return self.platform_error(kind, resource) or super().error(kind)
