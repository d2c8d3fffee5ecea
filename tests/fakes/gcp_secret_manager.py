"""A local GCP Secret Manager speaking the REST API's `versions:access` call, as ASGI.

    GET /v1/projects/{project}/secrets/{secret}/versions/{version}:access
      200 {"name": ".../versions/1", "payload": {"data": base64, "dataCrc32c": "..."}}
      404 / 403 with Google's error body ({"error": {"code", "message", "status"}})

Enough for the real google-cloud-secret-manager client (REST transport) pointed at it with
`client_options={"api_endpoint": "http://127.0.0.1:PORT"}` and anonymous credentials.
"""

from __future__ import annotations

import base64
import re
import zlib
from typing import Any

import orjson

_ACCESS = re.compile(r"^/v1/projects/([^/]+)/secrets/([^/]+)/versions/([^/:]+):access$")


class FakeSecretManager:
    def __init__(self) -> None:
        # (project, secret) -> payload of the latest (only) version
        self.secrets: dict[tuple[str, str], bytes] = {}
        self.denied: set[tuple[str, str]] = set()
        self.accessed: list[str] = []

    def put(self, project: str, secret: str, payload: bytes | str) -> None:
        self.secrets[(project, secret)] = payload.encode() if isinstance(payload, str) else payload

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        match = _ACCESS.match(scope["path"])
        if scope["method"] != "GET" or match is None:
            await _send(send, 404, _error(404, f"no route {scope['path']}", "NOT_FOUND"))
            return
        project, secret, version = match.groups()
        name = f"projects/{project}/secrets/{secret}"
        self.accessed.append(name)
        if (project, secret) in self.denied:
            message = (
                f"Permission 'secretmanager.versions.access' denied for resource "
                f"'{name}/versions/{version}' (or it may not exist)."
            )
            await _send(send, 403, _error(403, message, "PERMISSION_DENIED"))
            return
        payload = self.secrets.get((project, secret))
        if payload is None or version not in ("latest", "1"):
            message = f"Secret [{name}] not found or has no versions."
            await _send(send, 404, _error(404, message, "NOT_FOUND"))
            return
        body = {
            "name": f"{name}/versions/1",
            "payload": {
                "data": base64.b64encode(payload).decode(),
                # The real service sends CRC32C; zlib's CRC32 stands in (the client ignores it).
                "dataCrc32c": str(zlib.crc32(payload)),
            },
        }
        await _send(send, 200, body)


def _error(code: int, message: str, status: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


async def _send(send: Any, status: int, body: dict[str, Any]) -> None:
    data = orjson.dumps(body)
    headers = [(b"content-type", b"application/json; charset=UTF-8")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
