"""A local Azure Key Vault (secrets `get` only) over TLS for the real azure-keyvault-secrets client.

    GET /secrets/{name}[/{version}]?api-version=...
      no bearer token -> 401 with the challenge the client answers by asking its credential
      200 {"value", "id", "attributes"}; 404 SecretNotFound; 403 Forbidden (ForbiddenByRbac)

`serve_tls` runs it under uvicorn on 127.0.0.1 with a certificate from a trustme CA; point the
client at it with `connection_verify=<ca file>` (and `verify_challenge_resource=False`, since
the challenge names vault.azure.net and the vault is 127.0.0.1).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import trustme
import uvicorn

_SECRET = re.compile(r"^/secrets/([0-9A-Za-z-]+)(?:/([0-9a-f]*))?/?$")
CHALLENGE = (
    'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000",'
    ' resource="https://vault.azure.net"'
)
TOKEN = "fake-vault-token"


class FakeKeyVault:
    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.denied: set[str] = set()
        self.reads: list[str] = []
        self.base_url = ""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        if headers.get(b"authorization") != f"Bearer {TOKEN}".encode():
            await _send(
                send,
                401,
                {"error": {"code": "Unauthorized", "message": "no token"}},
                [(b"www-authenticate", CHALLENGE.encode())],
            )
            return
        match = _SECRET.match(scope["path"])
        if scope["method"] != "GET" or match is None:
            await _send(send, 400, {"error": {"code": "BadParameter", "message": "bad path"}})
            return
        name = match.group(1)
        self.reads.append(name)
        if name in self.denied:
            error = {
                "code": "Forbidden",
                "message": "Caller is not authorized to perform action on resource.",
                "innererror": {"code": "ForbiddenByRbac"},
            }
            await _send(send, 403, {"error": error})
        elif name not in self.secrets:
            message = f"A secret with (name/id) {name} was not found in this key vault."
            await _send(send, 404, {"error": {"code": "SecretNotFound", "message": message}})
        else:
            now = int(time.time())
            body = {
                "value": self.secrets[name],
                "id": f"{self.base_url}/secrets/{name}/0123456789abcdef0123456789abcdef",
                "attributes": {
                    "enabled": True,
                    "created": now,
                    "updated": now,
                    "recoveryLevel": "Recoverable+Purgeable",
                },
                "tags": {},
            }
            await _send(send, 200, body)


async def _send(
    send: Any, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        # One request per connection: an idle TLS keep-alive would hold up the server's stop.
        (b"connection", b"close"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": orjson.dumps(body)})


@contextmanager
def serve_tls(vault: FakeKeyVault, workdir: Path) -> Iterator[tuple[str, Path]]:
    """Yield (vault URL, CA bundle path) for a TLS server on 127.0.0.1."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = workdir / "vault.pem", workdir / "vault.key", workdir / "ca.pem"
    cert.private_key_pem.write_to_path(str(key_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    ca.cert_pem.write_to_path(str(ca_file))
    config = uvicorn.Config(
        vault,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        ssl_certfile=str(cert_file),
        ssl_keyfile=str(key_file),
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-key-vault", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("fake Key Vault did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    vault.base_url = f"https://127.0.0.1:{port}"
    try:
        yield vault.base_url, ca_file
    finally:
        server.should_exit = True
        thread.join(10)
