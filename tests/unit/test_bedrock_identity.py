"""The AWS identity: what it says when the chain has nothing, and what it registers to redact."""

from __future__ import annotations

from pathlib import Path

import pytest
from ai_proxy.errors import ProviderNotConfigured
from ai_proxy.identity.aws import AwsIdentity
from ai_proxy.logs import redact_known
from ai_proxy.providers.base import UpstreamRequest

from tests.fakes.bedrock import isolate_aws_env

URL = "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/invoke"


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    isolate_aws_env(monkeypatch, tmp_path)
    return monkeypatch


def test_no_credentials_names_the_chain(no_aws: pytest.MonkeyPatch) -> None:
    identity = AwsIdentity("bedrock", "us-east-1")
    assert not identity.load()
    with pytest.raises(ProviderNotConfigured, match="no AWS credentials: set a role"):
        identity.authorize(UpstreamRequest(URL, {}, b"{}"))


def test_no_region_is_named(no_aws: pytest.MonkeyPatch) -> None:
    identity = AwsIdentity("bedrock", None)
    assert not identity.load()
    with pytest.raises(ProviderNotConfigured, match="no AWS region"):
        identity.authorize(UpstreamRequest(URL, {}, b"{}"))


def test_the_secret_key_and_token_are_redacted_once_loaded(no_aws: pytest.MonkeyPatch) -> None:
    no_aws.setenv("AWS_ACCESS_KEY_ID", "AKIAIDENTITYTEST0001")
    no_aws.setenv("AWS_SECRET_ACCESS_KEY", "identity-test-secret-key-0123456789")
    no_aws.setenv("AWS_SESSION_TOKEN", "identity-test-session-token-0123456789")
    identity = AwsIdentity("bedrock", "us-east-1")
    assert identity.load()
    text = redact_known(
        "identity-test-secret-key-0123456789 identity-test-session-token-0123456789"
    )
    assert "identity-test" not in text
    request = UpstreamRequest(URL, {"content-type": "application/json"}, b"{}")
    identity.authorize(request)
    assert request.headers["x-amz-security-token"] == "identity-test-session-token-0123456789"
    assert request.headers["authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIAIDENTITYTEST0001/"
    )
    assert "/us-east-1/bedrock/aws4_request" in request.headers["authorization"]
