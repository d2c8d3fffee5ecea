"""Client authentication: which configured key, if any, a request presents.

Clients send the gateway key the way Anthropic's SDKs and Claude Code send theirs: as
`x-api-key`, or as `Authorization: Bearer <key>` (ANTHROPIC_AUTH_TOKEN). The config holds only
SHA-256 digests of the keys, so a leaked config file or secret does not leak a usable key.

Cost and timing. A request costs one SHA-256 of the presented key and one dict lookup keyed by
the hex digest, whatever the number of keys. The lookup is not constant time, but what it
compares is the digest of an attacker-chosen input, not a secret: learning that a stored digest
starts with some hex digits gives no help towards a preimage (keys are 256-bit random strings;
even a stored digest itself would not be enough to find the key). The match found is confirmed
with `hmac.compare_digest` anyway, so the final decision never rests on a short-circuiting ==.

Client keys are per instance: `set_keys` swaps the whole table atomically, so a secret source
(ai_proxy.secrets) can add or rotate keys without a restart. Admin keys (`auth.admin_keys`,
for GET /v1/usage) are a second table of the same kind; they serve no model.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from .config import AuthConfig, ConfigError
from .errors import AuthenticationFailed

# Longer keys are refused before hashing: generated keys are ~47 characters, and hashing
# attacker-sized headers is work we need not do.
MAX_KEY_LENGTH = 512
KEY_PREFIX = "aip_"
DISABLED_NAME = "anonymous"


@dataclass(frozen=True, slots=True)
class ClientKey:
    name: str
    sha256: str


def hash_key(key: str) -> str:
    """The hex SHA-256 to configure for a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh client key: 256 random bits, prefixed so it is recognisable in a secret scan."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ClientAuth:
    def __init__(self, disabled: bool, keys: Iterable[ClientKey], kind: str = "client") -> None:
        self.disabled = disabled
        self.kind = kind  # named in refusals: "client" or "admin"
        self._by_digest: dict[str, ClientKey] = {}
        self.set_keys(keys)

    @classmethod
    def from_config(cls, config: AuthConfig) -> ClientAuth:
        return cls(config.disabled, [ClientKey(k.name, k.sha256) for k in config.client_keys])

    @classmethod
    def admins_from_config(cls, config: AuthConfig) -> ClientAuth:
        """The admin keys: always checked, `auth.disabled` opens the client routes only."""
        return cls(False, [ClientKey(k.name, k.sha256) for k in config.admin_keys], "admin")

    def set_keys(self, keys: Iterable[ClientKey]) -> None:
        """Replace the key table (one assignment, so concurrent requests see old or new)."""
        self._by_digest = {key.sha256: key for key in keys}

    @property
    def keys(self) -> list[ClientKey]:
        return list(self._by_digest.values())

    def check_configured(self) -> None:
        """Start-up check: running open to the world must be a written decision."""
        if not self.disabled and not self._by_digest:
            raise ConfigError(
                "no client keys configured: create one with `ai-proxy hash-key` and add it as "
                '[[auth.client_keys]] (or AI_PROXY_AUTH__CLIENT_KEYS=\'[{"name":"...",'
                '"sha256":"..."}]\'), or set auth.disabled = true '
                "(AI_PROXY_AUTH__DISABLED=true) to serve without client authentication"
            )

    def authenticate(
        self, headers: Mapping[str, str], google_query: str | None = None
    ) -> ClientKey:
        """The key a request presents; AuthenticationFailed if none matches.

        `google_query` (the query string) is given for Gemini's routes only: there Google's
        conventions, the x-goog-api-key header and the `?key=` parameter, present a key too.
        Elsewhere a key in a URL is no key: URLs end up in proxies' and browsers' logs."""
        if self.disabled:
            return ANONYMOUS
        candidates = _presented_keys(headers, google_query)
        for candidate in candidates:
            digest = hash_key(candidate)
            key = self._by_digest.get(digest)
            if key is not None and hmac.compare_digest(key.sha256, digest):
                return key
        if not (candidates or headers.get("x-api-key") or headers.get("authorization")):
            raise AuthenticationFailed(f"missing {self.kind} key: {_HOW[google_query is None]}")
        raise AuthenticationFailed(f"invalid {self.kind} key")


ANONYMOUS = ClientKey(DISABLED_NAME, "")


_HOW = {
    True: "send it as the x-api-key header or as Authorization: Bearer <key>",
    False: "send it as the x-goog-api-key header, as ?key=, or as Authorization: Bearer <key>",
}


def _presented_keys(headers: Mapping[str, str], google_query: str | None) -> list[str]:
    """x-api-key, a Bearer token, then (Gemini routes) x-goog-api-key and `?key=`; empty,
    oversized or non-Bearer values are not keys.

    All are tried because a client may send several (Claude Code with ANTHROPIC_API_KEY and
    ANTHROPIC_AUTH_TOKEN set): one wrong header must not hide a right one."""
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    values = [headers.get("x-api-key", ""), token if scheme.lower() == "bearer" else ""]
    if google_query is not None:
        values.append(headers.get("x-goog-api-key", ""))
        if "key=" in google_query:
            values.extend(parse_qs(google_query).get("key", [])[:1])
    found: list[str] = []
    for value in values:
        value = value.strip()
        if 0 < len(value) <= MAX_KEY_LENGTH and value not in found:
            found.append(value)
    return found
