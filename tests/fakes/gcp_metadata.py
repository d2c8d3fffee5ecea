"""Where google-auth gets Google Cloud access tokens, faked on 127.0.0.1, for tests.

    with FakeGoogleAuth(project="proj-1") as google, google_auth_env(google):
        credentials, project = google.auth.default(scopes=[...])   # the metadata server's

One aiohttp app plays two token issuers, both writing into one `TokenRegistry` that a fake
service (tests.fakes.vertex) checks bearer tokens against:

- the metadata server of Cloud Run, GKE and Compute Engine, as google-auth calls it: the ping
  at `/` and `/computeMetadata/v1/...` (project id, the default service account's info and
  token, the universe domain). Every request must carry `Metadata-Flavor: Google` (403 and the
  server's own words otherwise) and every answer carries it back;
- Google's OAuth token endpoint for a service-account key file (`token_uri`): a JWT-bearer
  grant whose RS256 assertion is verified with the public half of a key this fake trusts
  (`service_account_file` makes one), its issuer, audience and scope checked;
- Cloud Resource Manager's `projects/{project}:testIamPermissions`, answering which of the
  asked permissions the caller holds (`granted`), for a live token only.

Tokens last `expires_in` seconds by the registry's own clock; a test makes a token stale with
`expire` (no waiting), and sees each refresh in `issued`.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.environment import patched_environ

from .server import BackgroundServer, ServedFake

DEFAULT_PROJECT = "fake-project-1"
DEFAULT_EMAIL = "gateway@fake-project-1.iam.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
PREDICT = "aiplatform.endpoints.predict"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The audience every service-account assertion names, whatever the key file's token_uri.
OAUTH_AUDIENCE = "https://oauth2.googleapis.com/token"
FLAVOR = {"Metadata-Flavor": "Google"}
_NO_FLAVOR = (
    "Your client does not have permission to get URL {path} from this server. "
    "Missing Metadata-Flavor:Google header."
)


@dataclass
class Issued:
    token: str
    principal: str  # the service account it was issued to
    via: str  # "metadata" | "token_uri"
    expires_at: float


@dataclass
class TokenRegistry:
    """Every access token issued, and whether it still authenticates."""

    clock: Callable[[], float] = time.time
    issued: list[Issued] = field(default_factory=list)
    _expired: set[str] = field(default_factory=set)

    def issue(self, principal: str, via: str, expires_in: int) -> Issued:
        # Shaped like Google's (ya29. and base64url), so redaction sees a realistic token.
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        issued = Issued(token, principal, via, self.clock() + expires_in)
        self.issued.append(issued)
        return issued

    def find(self, token: str) -> Issued | None:
        """The live grant of `token`, or None when it is unknown or expired."""
        for issued in self.issued:
            if issued.token == token:
                fresh = token not in self._expired and self.clock() < issued.expires_at
                return issued if fresh else None
        return None

    def expire(self, token: str | None = None) -> None:
        """Make one token (the latest by default) stale now, as time passing would."""
        self._expired.add(token if token is not None else self.issued[-1].token)

    @property
    def latest(self) -> str | None:
        return self.issued[-1].token if self.issued else None


class FakeGoogleAuth(ServedFake):
    def __init__(
        self,
        *,
        project: str = DEFAULT_PROJECT,
        email: str = DEFAULT_EMAIL,
        expires_in: int = 3599,
        tokens: TokenRegistry | None = None,
        metadata: bool = True,
    ) -> None:
        """`metadata`: answer as a metadata server (False: as a host that is none, so
        google-auth finds no credentials there)."""
        self.metadata = metadata
        # What the caller may do on the project (a fake Vertex enforces it too).
        self.granted: set[str] = {PREDICT}
        self.permission_checks: list[list[str]] = []
        self.project = project
        self.email = email
        self.expires_in = expires_in
        self.tokens = tokens or TokenRegistry()
        self.metadata_requests: list[str] = []  # paths, in order
        self.refused_grants: list[str] = []  # why each refused JWT grant was refused
        self._trusted: dict[str, Any] = {}  # client_email -> RSA public key
        app = web.Application()
        app.router.add_get("/", self._ping)
        app.router.add_get("/computeMetadata/v1/{path:.*}", self._metadata)
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1/projects/{tail}", self._test_permissions)
        self._server = BackgroundServer(app, name="fake-google-auth")

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    @property
    def host(self) -> str:
        """What GCE_METADATA_HOST / GCE_METADATA_IP take: host and port, no scheme."""
        return self.base_url.removeprefix("http://")

    def trust(self, email: str, public_key: Any) -> None:
        self._trusted[email] = public_key

    # --- the metadata server ----------------------------------------------------------------

    async def _ping(self, request: web.Request) -> web.Response:
        if not self.metadata:
            return web.Response(status=404, text="Not Found")
        return web.Response(text="", headers=FLAVOR)

    async def _metadata(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.metadata_requests.append(path)
        if not self.metadata:
            return web.Response(status=404, text="Not Found")
        if request.headers.get("Metadata-Flavor") != "Google":
            return web.Response(status=403, text=_NO_FLAVOR.format(path=request.path))
        if path == "project/project-id":
            return _text(self.project)
        if path == "universe/universe-domain":
            return _text("googleapis.com")
        if path == "instance/service-accounts/default/" and request.query.get("recursive"):
            info = {"aliases": ["default"], "email": self.email, "scopes": [SCOPE]}
            return _json(200, info)
        if path == "instance/service-accounts/default/email":
            return _text(self.email)
        if path == "instance/service-accounts/default/token":
            issued = self.tokens.issue(self.email, "metadata", self.expires_in)
            return _json(200, _token_answer(issued.token, self.expires_in))
        return web.Response(status=404, text="Not Found", headers=FLAVOR)

    # --- the OAuth token endpoint -----------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != JWT_BEARER:
            return _json(400, {"error": "unsupported_grant_type", "error_description": ""})
        problem, email = self._verify(str(form.get("assertion", "")))
        if problem is not None:
            self.refused_grants.append(problem)
            return _json(400, {"error": "invalid_grant", "error_description": problem})
        issued = self.tokens.issue(email, "token_uri", self.expires_in)
        return _json(200, _token_answer(issued.token, self.expires_in))

    def _verify(self, assertion: str) -> tuple[str | None, str]:
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return (
                "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.",
                "",
            )
        email = str(claims.get("iss", ""))
        key = self._trusted.get(email)
        if key is None:
            return "Invalid grant: account not found", email
        try:
            claims = jwt.decode(
                assertion, key, algorithms=["RS256"], audience=OAUTH_AUDIENCE, issuer=email
            )
        except jwt.InvalidSignatureError:
            return "Invalid JWT Signature.", email
        except jwt.PyJWTError as exc:
            return f"Invalid JWT: {exc}", email
        if SCOPE not in str(claims.get("scope", "")).split():
            return "Invalid OAuth scope or ID token audience provided.", email
        return None, email

    # --- Cloud Resource Manager -----------------------------------------------------------------

    async def _test_permissions(self, request: web.Request) -> web.Response:
        project, _, method = request.match_info["tail"].partition(":")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if method != "testIamPermissions":
            return _json(404, _google_error(404, "Method not found.", "NOT_FOUND"))
        if self.tokens.find(token) is None:
            message = "Request had invalid authentication credentials."
            return _json(401, _google_error(401, message, "UNAUTHENTICATED"))
        asked = list((await request.json()).get("permissions", []))
        self.permission_checks.append(asked)
        held = [p for p in asked if p in self.granted] if project == self.project else []
        return _json(200, {"permissions": held} if held else {})  # proto3 leaves out empties


@dataclass(frozen=True)
class KeyFile:
    path: Path
    email: str
    private_key: rsa.RSAPrivateKey


def service_account_file(
    directory: Path, google: FakeGoogleAuth, *, email: str | None = None, trusted: bool = True
) -> KeyFile:
    """A service-account key file whose token_uri is the fake's, with a fresh RSA key (whose
    public half the fake trusts, unless `trusted` is False)."""
    email = email or google.email
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": google.project,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": google.token_uri,
        "universe_domain": "googleapis.com",
    }
    path = directory / "service-account.json"
    path.write_text(json.dumps(info))
    if trusted:
        google.trust(email, private_key.public_key())
    return KeyFile(path, email, private_key)


@contextmanager
def google_auth_env(
    google: FakeGoogleAuth, config_dir: Path, *, key_file: Path | None = None
) -> Iterator[None]:
    """google-auth sees only the fakes: the key file (if any), no gcloud login (an empty
    CLOUDSDK_CONFIG), `google` as the metadata server and as Cloud Resource Manager. The
    environment, google-auth's metadata host (read once, when it is first imported) and our
    Resource Manager URL are restored afterwards."""
    from ai_proxy.identity import gcp
    from google.auth.compute_engine import _metadata

    host = google.host
    values = {
        "GCE_METADATA_HOST": host,
        "GCE_METADATA_IP": host,
        "CLOUDSDK_CONFIG": str(config_dir),
        "GOOGLE_APPLICATION_CREDENTIALS": str(key_file) if key_file is not None else None,
        "GOOGLE_CLOUD_PROJECT": None,
        "GCLOUD_PROJECT": None,
        "NO_GCE_CHECK": None,
    }
    saved_host, saved_manager = _metadata._GCE_METADATA_HOST, gcp.RESOURCE_MANAGER
    try:
        with patched_environ(values):
            _metadata._GCE_METADATA_HOST = host
            gcp.RESOURCE_MANAGER = google.base_url
            yield
    finally:
        _metadata._GCE_METADATA_HOST = saved_host
        gcp.RESOURCE_MANAGER = saved_manager


def _google_error(code: int, message: str, status: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


def _token_answer(token: str, expires_in: int) -> dict[str, Any]:
    return {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}


def _text(value: str) -> web.Response:
    return web.Response(text=value, content_type="application/text", headers=FLAVOR)


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", headers=FLAVOR
    )
