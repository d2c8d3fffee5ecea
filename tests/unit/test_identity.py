"""The platform-credential cache (ai_proxy.identity.base): when it refreshes, what it keeps when
a refresh fails, and what a request gets when there is nothing to sign with."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
import time

import pytest
from ai_proxy.config import Config
from ai_proxy.errors import ProviderNotConfigured
from ai_proxy.factory import refresh_secrets_when_due
from ai_proxy.gateway import Gateway
from ai_proxy.identity.base import (
    DEFAULT_REFRESH_SECONDS,
    EXPIRY_MARGIN_SECONDS,
    RETRY_SECONDS,
    Fetched,
    Identity,
)
from ai_proxy.logs import redact_known
from ai_proxy.providers.base import UpstreamRequest


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class TokenIdentity(Identity[str]):
    """Hands out the tokens it is given, one per fetch; an exception in the list is raised."""

    description = "the test token endpoint"

    def __init__(self, clock: Clock, *answers: Fetched[str] | Exception) -> None:
        super().__init__("testcloud", clock)
        self.answers = list(answers)
        self.fetches = 0

    def fetch(self) -> Fetched[str]:
        self.fetches += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def sign(self, request: UpstreamRequest, material: str) -> None:
        request.headers["authorization"] = f"Bearer {material}"


def signed(identity: Identity[str]) -> str:
    request = UpstreamRequest("https://cloud.example/v1", {}, b"{}")
    identity.authorize(request)
    return request.headers["authorization"]


def test_a_token_is_refreshed_a_margin_before_it_expires() -> None:
    clock = Clock()
    identity = TokenIdentity(
        clock,
        Fetched("token-one-abcdef", expires_at=clock.now + 3600),
        Fetched("token-two-abcdef", expires_at=clock.now + 7200),
    )
    assert identity.load()
    assert signed(identity) == "Bearer token-one-abcdef"
    clock.now += 3600 - EXPIRY_MARGIN_SECONDS - 1
    assert not identity.due
    identity.refresh_if_due()
    assert identity.fetches == 1
    clock.now += 1
    assert identity.due
    identity.refresh_if_due()
    assert (identity.fetches, signed(identity)) == (2, "Bearer token-two-abcdef")


def test_a_short_lived_token_is_refreshed_at_half_its_lifetime() -> None:
    clock = Clock()
    identity = TokenIdentity(clock, Fetched("short-lived-token", expires_at=clock.now + 120))
    identity.load()
    clock.now += 59
    assert not identity.due
    clock.now += 1
    assert identity.due


def test_material_without_an_expiry_is_looked_at_again_periodically() -> None:
    clock = Clock()
    identity = TokenIdentity(clock, Fetched("static-credential"))
    identity.load()
    clock.now += DEFAULT_REFRESH_SECONDS - 1
    assert not identity.due
    clock.now += 1
    assert identity.due


def test_a_failed_refresh_keeps_the_last_token_until_it_expires_and_retries_soon(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    identity = TokenIdentity(
        clock,
        Fetched("still-good-token", expires_at=clock.now + 600),
        RuntimeError("metadata server unreachable"),
    )
    identity.load()
    clock.now += 300
    with caplog.at_level(logging.WARNING, "ai_proxy.identity"):
        assert not identity.refresh()
    assert "metadata server unreachable" in caplog.text
    assert signed(identity) == "Bearer still-good-token"
    clock.now += RETRY_SECONDS
    assert identity.due
    clock.now += 300  # the kept token has expired now
    with pytest.raises(ProviderNotConfigured, match="metadata server unreachable"):
        signed(identity)


def test_no_credentials_at_cold_start_is_a_log_line_and_a_clear_error_per_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    identity = TokenIdentity(Clock(), RuntimeError("no service account is attached"))
    with caplog.at_level(logging.WARNING, "ai_proxy.identity"):
        assert not identity.load()
    assert "testcloud upstream: no credentials from the test token endpoint" in caplog.text
    with pytest.raises(ProviderNotConfigured) as info:
        signed(identity)
    assert info.value.message == (
        "testcloud has no usable credentials from the test token endpoint: "
        "no service account is attached"
    )
    assert info.value.try_next_target  # a fallback chain moves on to the next target


def test_tokens_are_redacted_from_logs() -> None:
    identity = TokenIdentity(
        Clock(), Fetched("ya29.secret-token-value", secrets=("ya29.secret-token-value",))
    )
    identity.load()
    assert "ya29" not in redact_known("upstream said: ya29.secret-token-value is bad")


def test_before_load_nothing_is_due_and_nothing_signs() -> None:
    identity = TokenIdentity(Clock())
    assert not identity.due
    with pytest.raises(ProviderNotConfigured, match="not been resolved"):
        signed(identity)


def bedrock_gateway(**table: object) -> Gateway:
    providers = {"bedrock": {"enabled": True, "region": "us-east-1", **table}}
    return Gateway(Config.model_validate({"providers": providers, "auth": {"disabled": True}}))


def test_a_serverless_cold_start_resolves_it_and_a_later_request_refreshes_it_when_due() -> None:
    clock = Clock()
    gateway = bedrock_gateway()
    identity = TokenIdentity(
        clock,
        Fetched("first-token-abcdef", expires_at=clock.now + 3600),
        Fetched("second-token-abcdef", expires_at=clock.now + 7200),
    )
    gateway.providers["bedrock"].identity = identity
    gateway.load_secrets()  # what build_serverless_gateway does at cold start
    assert identity.fetches == 1 and "bedrock" in gateway.configured_providers
    assert not gateway.credentials_due
    clock.now += 3600 - EXPIRY_MARGIN_SECONDS
    assert gateway.credentials_due
    asyncio.run(refresh_secrets_when_due(gateway))  # before the request, on Lambda
    assert identity.fetches == 2 and signed(identity) == "Bearer second-token-abcdef"


def test_a_provider_given_a_key_does_not_resolve_its_identity() -> None:
    gateway = bedrock_gateway(api_key="bedrock-api-key-value")
    assert gateway.providers["bedrock"].identity is None
    keyless = bedrock_gateway()
    identity = TokenIdentity(Clock(), Fetched("unused-token-abcdef"))
    keyless.providers["bedrock"].identity = identity
    keyless.set_api_keys({"bedrock": "a-key-from-the-secret"})  # the secret holds one
    keyless.load_identities()
    assert identity.fetches == 0


# What never loads a cloud SDK: no cloud provider, or one reached with a key.
WITHOUT_AN_IDENTITY = {
    "no cloud": {},
    "bedrock with an API key": {
        "bedrock": {"enabled": True, "region": "us-east-1", "api_key": "bedrock-api-key"}
    },
    "azure_openai with a key": {"azure_openai": {"resource": "contoso", "api_key": "key-1"}},
    "vertex not enabled": {"vertex": {"project": "p", "location": "us-east5"}},
}


@pytest.mark.parametrize("providers", WITHOUT_AN_IDENTITY.values(), ids=WITHOUT_AN_IDENTITY)
def test_no_cloud_sdk_is_imported_without_a_platform_identity(providers: object) -> None:
    """A deployment that does not use a cloud's identity keeps today's cold start: a gateway
    built and started as a serverless cold start does it (secrets and identities loaded)
    imports none of botocore, google.auth or azure."""
    code = (
        "import sys\n"
        "from ai_proxy.config import Config\n"
        "from ai_proxy.factory import build_serverless_gateway\n"
        f"settings = {{'auth': {{'disabled': True}}, 'providers': {providers!r}}}\n"
        "build_serverless_gateway(Config.model_validate(settings))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('botocore', 'boto3', 'azure')"
        " or m.startswith('google.auth')))"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.strip().splitlines()[-1] == "[]"


class SlowTokenIdentity(Identity[str]):
    """Each fetch blocks its thread a while (a token endpoint's round trip) and hands out a
    token that lives two seconds, so the background refresh comes round after one."""

    description = "a slow token endpoint"

    def __init__(self) -> None:
        super().__init__("testcloud")
        self.fetched = threading.Event()
        self.fetching = threading.Event()
        self.fetches = 0

    def fetch(self) -> Fetched[str]:
        self.fetching.set()
        time.sleep(0.5)
        self.fetching.clear()
        self.fetches += 1
        if self.fetches > 1:
            self.fetched.set()
        return Fetched(f"token-{self.fetches}-abcdef", expires_at=time.time() + 2)

    def sign(self, request: UpstreamRequest, material: str) -> None:
        request.headers["authorization"] = f"Bearer {material}"


def test_the_background_refresh_runs_before_expiry_without_blocking_the_loop() -> None:
    identity = SlowTokenIdentity()
    identity.load()

    async def watch() -> int:
        refresher = asyncio.create_task(identity.refresh_forever())
        ticks, during_fetch = 0, 0
        try:
            while not identity.fetched.is_set():  # the refresh is due after 1 s
                await asyncio.sleep(0.01)
                ticks += 1
                during_fetch += identity.fetching.is_set()
                assert ticks < 2000, "no refresh within 20 s"
        finally:
            refresher.cancel()
        return during_fetch

    during_fetch = asyncio.run(watch())
    assert identity.fetches == 2 and signed(identity) == "Bearer token-2-abcdef"
    # The loop kept running while the fetch blocked its worker thread for half a second.
    assert during_fetch > 0
