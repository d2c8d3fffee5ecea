"""Google Cloud's Application Default Credentials (ADC), as OAuth access tokens.

ADC is google-auth's search: the key file named by GOOGLE_APPLICATION_CREDENTIALS (a service
account, or a workload identity federation config), then gcloud's own login, then the metadata
server of Cloud Run, GKE and Compute Engine. Whichever answers, its access token lasts about an
hour; `fetch` refreshes it (blocking, in a worker thread) and the base class does so again
before it expires. google-auth is an optional extra (`ai-proxy[gcp]`), imported here only when
a Google identity is actually resolved.

With `permission` set, the first token also asks Cloud Resource Manager whether it grants that
permission on the project (testIamPermissions, which any caller may ask): a missing grant is
a start-up log line rather than a surprise on the first request. The check runs in a thread of
its own, off the cold start's path (an egress that cannot reach the API costs a start nothing),
and never fails a start; if it cannot be made, that is said at info level.
"""

from __future__ import annotations

import calendar
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .base import Fetched, Identity

if TYPE_CHECKING:
    from ..providers.base import UpstreamRequest

log = logging.getLogger("ai_proxy.identity")

# Where testIamPermissions is asked (tests point it at a fake).
RESOURCE_MANAGER = "https://cloudresourcemanager.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
CHECK_TIMEOUT_SECONDS = 5.0
_TRIED = (
    "GOOGLE_APPLICATION_CREDENTIALS, gcloud's application-default login, "
    "the metadata server (Cloud Run, GKE, Compute Engine)"
)


class GoogleIdentity(Identity[str]):
    """The material is the access token; `project` is the one the credentials came with
    (the metadata server's on Cloud Run and GKE, a key file's own, or GOOGLE_CLOUD_PROJECT)."""

    def __init__(
        self,
        provider: str,
        *,
        permission: tuple[str, str] | None = None,
        project: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`permission`: (permission, the role that grants it) to check on `project` (unset:
        the credentials' own project) once the first token is in hand."""
        super().__init__(provider, clock)
        self.project: str | None = None
        self._configured_project = project
        self._permission = permission
        self._check: threading.Thread | None = None

    @property
    def description(self) -> str:
        return "Google Application Default Credentials"

    def fetch(self) -> Fetched[str]:
        try:
            import google.auth
            import google.auth.exceptions
            import google.auth.transport.requests
        except ImportError:
            raise RuntimeError(
                "google-auth is not installed: install ai-proxy[gcp] to use Vertex AI"
            ) from None
        try:
            credentials, project = google.auth.default(scopes=[SCOPE])
        except google.auth.exceptions.DefaultCredentialsError:
            raise RuntimeError(f"no credentials found; tried {_TRIED}") from None
        try:
            credentials.refresh(google.auth.transport.requests.Request())  # type: ignore[no-untyped-call]
        except google.auth.exceptions.GoogleAuthError as exc:
            # google-auth's messages name the token endpoint and its answer, never the token.
            kind = type(credentials).__module__.rsplit(".", 1)[-1]
            raise RuntimeError(f"{kind} credentials could not get an access token: {exc}") from None
        token = credentials.token
        if not isinstance(token, str) or not token:
            raise RuntimeError("the credentials returned no access token")
        if project:
            self.project = str(project)
        if self._permission is not None:
            self._check = threading.Thread(
                target=self._check_permission,
                args=(google.auth.transport.requests.Request(), token),
                name=f"{self.provider}-permission-check",
                daemon=True,
            )
            self._check.start()
        expiry = credentials.expiry  # naive UTC, as google-auth keeps it
        expires_at = float(calendar.timegm(expiry.utctimetuple())) if expiry is not None else None
        return Fetched(token, expires_at, (token,))

    def _check_permission(self, request: Any, token: str) -> None:
        assert self._permission is not None
        (permission, role), self._permission = self._permission, None  # once
        project = self._configured_project or self.project
        if not project:
            return
        url = f"{RESOURCE_MANAGER}/v1/projects/{quote(project, safe='')}:testIamPermissions"
        try:
            response = request(
                url=url,
                method="POST",
                body=json.dumps({"permissions": [permission]}).encode(),
                headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
                timeout=CHECK_TIMEOUT_SECONDS,
            )
            granted = (
                json.loads(response.data).get("permissions", []) if response.status == 200 else None
            )
        except Exception as exc:  # a check we could not make is no reason to stop
            log.info("%s upstream: could not check '%s': %s", self.provider, permission, exc)
            return
        if granted is None:
            log.info(
                "%s upstream: could not check '%s': HTTP %s",
                self.provider,
                permission,
                response.status,
            )
        elif permission not in granted:
            log.warning(
                "%s upstream: the credentials lack permission '%s' on projects/%s; requests will "
                "be refused (grant the service account %s)",
                self.provider,
                permission,
                project,
                role,
            )

    def sign(self, request: UpstreamRequest, material: str) -> None:
        request.headers["authorization"] = f"Bearer {material}"

    def close(self) -> None:
        """Let a permission check still under way finish (and say what it found)."""
        if self._check is not None:
            self._check.join(CHECK_TIMEOUT_SECONDS + 1)
