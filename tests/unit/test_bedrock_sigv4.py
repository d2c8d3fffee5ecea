"""The fake Bedrock's own SigV4 verifier: AWS's published example, and botocore's signatures
accepted, every tampering refused with the error AWS answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ai_proxy.identity.aws import AwsCredentials, AwsIdentity
from ai_proxy.providers.base import UpstreamRequest

from tests.fakes.sigv4 import Credentials, canonical_request, signature, verify

KEY = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "session-1")
PATH = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"
BODY = b'{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[]}'


def test_the_example_aws_publishes_for_get_object() -> None:
    # AWS's S3 SigV4 documentation: GET /test.txt with a Range header, an empty payload.
    headers = {
        "host": "examplebucket.s3.amazonaws.com",
        "range": "bytes=0-9",
        "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "x-amz-date": "20130524T000000Z",
    }
    canonical = canonical_request("GET", "/test.txt", "", headers, sorted(headers), b"")
    assert signature(KEY.secret_key, "20130524T000000Z", "20130524/us-east-1/s3", canonical) == (
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def signed(region: str = "us-east-1", secret: str = KEY.secret_key) -> dict[str, str]:
    """Headers of a request botocore signed (through the gateway's identity), as received."""
    identity = AwsIdentity("bedrock", region)
    request = UpstreamRequest(
        f"http://127.0.0.1:8080{PATH}", {"content-type": "application/json"}, BODY
    )
    identity.sign(request, AwsCredentials(KEY.access_key, secret, KEY.token))
    return {"host": "127.0.0.1:8080", **request.headers}


def check(
    headers: dict[str, str],
    *,
    body: bytes = BODY,
    raw_path: str = PATH,
    region: str = "us-east-1",
    service: str = "bedrock",
    known: dict[str, Credentials] | None = None,
    now: datetime | None = None,
) -> tuple[str, str] | None:
    known = {KEY.access_key: KEY} if known is None else known
    return verify("POST", raw_path, headers, body, known, region, service, now)


def test_botocores_signature_is_accepted() -> None:
    headers = signed()
    assert "x-amz-security-token" in headers
    assert check(headers) is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"body": BODY + b" "}, "InvalidSignatureException"),
        # The path signed once-quoted would not match: `%3A` is signed as `%253A`.
        ({"raw_path": PATH.replace("%3A", ":")}, "InvalidSignatureException"),
        ({"region": "eu-west-1"}, "InvalidSignatureException"),
        ({"service": "s3"}, "InvalidSignatureException"),
        ({"known": {}}, "UnrecognizedClientException"),
        # A signature from 6 minutes ago (AWS allows 5), reckoned when the test runs: a time
        # taken at collection would be minutes old by then.
        ({"late": timedelta(minutes=6)}, "InvalidSignatureException"),
    ],
)
def test_tampering_is_refused(change: dict[str, Any], expected: str) -> None:
    change = dict(change)
    late = change.pop("late", None)
    if late is not None:
        change["now"] = datetime.now(UTC) + late
    problem = check(signed(), **change)
    assert problem is not None and problem[0] == expected


def test_a_wrong_secret_or_token_or_no_signature_is_refused() -> None:
    assert check(signed(secret="wrong"))[0] == "InvalidSignatureException"  # type: ignore[index]
    tokenless = {k: v for k, v in signed().items() if k != "x-amz-security-token"}
    assert check(tokenless)[0] == "UnrecognizedClientException"  # type: ignore[index]
    unsigned = {k: v for k, v in signed().items() if k != "authorization"}
    assert check(unsigned) == (
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )
