"""AWS Signature Version 4, verified the way AWS does it, written independently of botocore.

    problem = verify(method, raw_path, query, headers, body, credentials, region, "bedrock")

`problem` is None for a good signature, else the (exception name, message) AWS answers. The
canonical request of a service other than S3 takes the path URI-encoded once more than it was
sent (`%3A` in a model id is signed as `%253A`); the signed headers must include `host` and
`x-amz-date`; the date must be within five minutes of now; the scope's region and service must
be the endpoint's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=5)
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})$"
)

INVALID_TOKEN = "The security token included in the request is invalid."
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)

Problem = tuple[str, str]


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


def verify(
    method: str,
    raw_path: str,
    headers: Mapping[str, str],
    body: bytes,
    known: Mapping[str, Credentials],
    region: str,
    service: str,
    now: datetime | None = None,
) -> Problem | None:
    """`headers` with lower-case names; `known`: access key id -> its credentials."""
    authorization = headers.get("authorization")
    if authorization is None:
        return ("MissingAuthenticationTokenException", "Missing Authentication Token")
    match = _AUTHORIZATION.match(authorization)
    if match is None:
        return ("IncompleteSignatureException", f"Invalid authorization header: {authorization}")
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        return ("IncompleteSignatureException", "Credential is not well formed.")
    access_key, day, scope_region, scope_service, _ = parts
    credentials = known.get(access_key)
    if credentials is None or headers.get("x-amz-security-token") != credentials.token:
        return ("UnrecognizedClientException", INVALID_TOKEN)
    if scope_region != region:
        return ("InvalidSignatureException", f"Credential should be scoped to a valid region, "
                                             f"not '{scope_region}'. ")  # fmt: skip
    if scope_service != service:
        return (
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{service}'. ",
        )
    signed = match["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        return ("InvalidSignatureException", "'Host' and 'X-Amz-Date' must be signed headers.")
    amz_date = headers.get("x-amz-date", "")
    try:
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return ("IncompleteSignatureException", f"Date must be in ISO-8601 'basic format': "
                                                f"{amz_date!r}")  # fmt: skip
    now = now or datetime.now(UTC)
    if abs(now - when) > MAX_SKEW or amz_date[:8] != day:
        return (
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than "
            f"{(now - MAX_SKEW):%Y%m%dT%H%M%SZ} ({now:%Y%m%dT%H%M%SZ} - 5 min.)",
        )
    path, _, query = raw_path.partition("?")
    canonical = canonical_request(method, path, query, headers, signed, body)
    expected = signature(credentials.secret_key, amz_date, f"{day}/{region}/{service}", canonical)
    if not hmac.compare_digest(expected, match["signature"]):
        return ("InvalidSignatureException", MISMATCH)
    return None


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed: list[str],
    body: bytes,
) -> str:
    canonical_uri = quote(path, safe="/~") or "/"
    pairs = sorted(
        (quote(name, safe="-_.~"), quote(value, safe="-_.~"))
        for name, value in parse_qsl(query, keep_blank_values=True)
    )
    canonical_query = "&".join(f"{name}={value}" for name, value in pairs)
    canonical_headers = "".join(
        f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed
    )
    return "\n".join(
        [
            method,
            canonical_uri,
            canonical_query,
            canonical_headers,
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def signature(secret_key: str, amz_date: str, scope: str, canonical: str) -> str:
    """The hex HMAC of the string to sign, with the key derived day -> region -> service."""
    string_to_sign = "\n".join(
        [
            ALGORITHM,
            amz_date,
            f"{scope}/aws4_request",
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + secret_key).encode()
    for part in [*scope.split("/"), "aws4_request"]:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
