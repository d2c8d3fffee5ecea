"""A fake App Service / Functions managed identity endpoint, for the real azure-identity.

azure-identity's `ManagedIdentityCredential` (through MSAL) calls, when IDENTITY_ENDPOINT and
IDENTITY_HEADER are set:

    GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<audience>[&client_id=<id>]
    X-IDENTITY-HEADER: {IDENTITY_HEADER}
    -> 200 {"access_token", "expires_on" (epoch seconds, a string), "resource", "token_type",
            "client_id"}

It refuses what the platform's endpoint refuses: a wrong or missing X-IDENTITY-HEADER, an
api-version it does not serve, no resource, a client_id no identity of this app has
(`{"statusCode", "message"}`, as App Service words them). Tokens are short-lived when asked
(`lifetime`), so a refresh is observable; `principal_of` tells the fake Azure OpenAI whose a
token is, and whether it has expired.

    endpoint = FakeManagedIdentity(user_assigned={"1111-...": "principal-of-uami"})
    with endpoint.serve():
        monkeypatch.setenv(...) for name, value in endpoint.environ().items()
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aiohttp import web

from .server import BackgroundServer

API_VERSION = "2019-08-01"
SYSTEM_PRINCIPAL = "principal-of-the-system-assigned-identity"
_serial = itertools.count(1)


@dataclass(frozen=True)
class Issued:
    token: str
    principal: str
    resource: str
    expires_on: int


@dataclass(frozen=True)
class TokenRequest:
    resource: str
    client_id: str | None


class FakeManagedIdentity:
    def __init__(self, *, user_assigned: dict[str, str] | None = None, lifetime: int = 3600):
        """`user_assigned`: client id -> principal id of each user-assigned identity."""
        self.secret = secrets.token_hex(16)  # IDENTITY_HEADER, as the platform makes one
        self.user_assigned = dict(user_assigned or {})
        self.lifetime = lifetime
        self.requests: list[TokenRequest] = []
        self.refused = 0
        self._issued: dict[str, Issued] = {}
        self._lock = threading.Lock()
        self._url = ""

    def environ(self) -> dict[str, str]:
        """What App Service sets in the process environment."""
        return {"IDENTITY_ENDPOINT": self._url, "IDENTITY_HEADER": self.secret}

    @contextmanager
    def serve(self) -> Iterator[str]:
        app = web.Application()
        app.router.add_get("/msi/token", self._token)
        with BackgroundServer(app, name="fake-managed-identity") as server:
            self._url = server.base_url + "/msi/token"
            yield self._url

    def principal_of(self, token: str, resource: str) -> str | None:
        """The principal a live token for `resource` was issued to, else None."""
        with self._lock:
            issued = self._issued.get(token)
        if issued is None or issued.resource != resource or issued.expires_on <= time.time():
            return None
        return issued.principal

    async def _token(self, request: web.Request) -> web.Response:
        if request.headers.get("X-IDENTITY-HEADER") != self.secret:
            return self._refuse(401, "The X-IDENTITY-HEADER is missing or invalid.")
        if request.query.get("api-version") != API_VERSION:
            return self._refuse(400, "The api-version is missing or not supported.")
        resource = request.query.get("resource", "")
        if not resource:
            return self._refuse(400, "The resource parameter is required.")
        client_id = request.query.get("client_id")
        with self._lock:
            self.requests.append(TokenRequest(resource, client_id))
        if client_id is None:
            principal = SYSTEM_PRINCIPAL
        elif client_id in self.user_assigned:
            principal = self.user_assigned[client_id]
        else:
            return self._refuse(400, "Unable to load the proper Managed Identity.")
        token = f"mi-token-{next(_serial)}-{secrets.token_hex(8)}"
        expires_on = int(time.time()) + self.lifetime
        with self._lock:
            self._issued[token] = Issued(token, principal, resource, expires_on)
        return web.json_response(
            {
                "access_token": token,
                "expires_on": str(expires_on),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": client_id or "00000000-0000-0000-0000-00000000c1d0",
            }
        )

    def _refuse(self, status: int, message: str) -> web.Response:
        with self._lock:
            self.refused += 1
        return web.json_response({"statusCode": status, "message": message}, status=status)
