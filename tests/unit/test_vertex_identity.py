"""GoogleIdentity: google-auth's ADC against the fake token issuers, on a clock the test drives."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ai_proxy.errors import ProviderNotConfigured
from ai_proxy.identity.base import EXPIRY_MARGIN_SECONDS
from ai_proxy.identity.gcp import GoogleIdentity
from ai_proxy.providers.base import UpstreamRequest

from tests.fakes.gcp_metadata import (
    FakeGoogleAuth,
    TokenRegistry,
    google_auth_env,
    service_account_file,
)
from tests.fakes.vertex import FakeVertex

LIFETIME = 3599  # what the metadata server gives: just under an hour


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def vertex(clock: Clock, tmp_path: Path) -> Iterator[FakeVertex]:
    google = FakeGoogleAuth(expires_in=LIFETIME, tokens=TokenRegistry(clock=clock))
    with FakeVertex(google) as fake, google_auth_env(google, tmp_path):
        yield fake


def bearer(identity: GoogleIdentity) -> str:
    request = UpstreamRequest(url="", headers={}, body=b"")
    identity.authorize(request)
    scheme, _, token = request.headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    return token


def generate(vertex: FakeVertex, token: str) -> int:
    url = (
        f"{vertex.base_url}/v1/projects/{vertex.project}/locations/global/publishers/google/"
        "models/gemini-2.5-flash:generateContent"
    )
    body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    headers = {"authorization": f"Bearer {token}"}
    return httpx.post(url, json=body, headers=headers, timeout=10).status_code


def test_token_refreshed_before_it_expires(vertex: FakeVertex, clock: Clock) -> None:
    identity = GoogleIdentity("vertex", clock=clock)
    assert identity.load()
    assert identity.project == vertex.google.project  # from the metadata server
    first = bearer(identity)
    assert first == vertex.google.tokens.latest
    clock.now += LIFETIME - EXPIRY_MARGIN_SECONDS - 2
    assert not identity.due
    clock.now += 3  # the margin before the expiry reached: refresh while the token works
    assert identity.due
    assert generate(vertex, first) == 200
    identity.refresh_if_due()
    second = bearer(identity)
    assert second != first and second == vertex.google.tokens.latest
    clock.now += EXPIRY_MARGIN_SECONDS  # the first token has now expired; the second has not
    assert generate(vertex, first) == 401
    assert generate(vertex, second) == 200
    assert [i.via for i in vertex.google.tokens.issued] == ["metadata", "metadata"]


def test_service_account_file_token_and_project(
    vertex: FakeVertex, clock: Clock, tmp_path: Path
) -> None:
    key = service_account_file(tmp_path, vertex.google)
    vertex.google.metadata = False
    with google_auth_env(vertex.google, tmp_path, key_file=key.path):
        identity = GoogleIdentity("vertex", clock=clock)
        assert identity.load()
    token = bearer(identity)
    [issued] = vertex.google.tokens.issued
    assert (issued.token, issued.via, issued.principal) == (token, "token_uri", key.email)
    assert identity.project == vertex.google.project  # the key file's project_id
    assert generate(vertex, token) == 200


def test_no_credentials_anywhere_is_named_without_secrets(vertex: FakeVertex, clock: Clock) -> None:
    vertex.google.metadata = False  # not on Google Cloud, no key file, no gcloud login
    identity = GoogleIdentity("vertex", clock=clock)
    assert not identity.load()
    with pytest.raises(ProviderNotConfigured) as raised:
        bearer(identity)
    message = raised.value.message
    assert "Google Application Default Credentials" in message
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message and "metadata server" in message
