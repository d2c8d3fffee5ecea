"""A real redis-server (Debian's /usr/bin/redis-server) on a free 127.0.0.1 port, for tests.

    with RedisServer(tmp_path) as server:
        store = RedisStore(server.url, ...)
        server.kill(); server.start()   # an outage, then Redis back on the same port
        server.pause(); server.resume() # a hung Redis (SIGSTOP / SIGCONT)

Nothing is persisted (--save "", no AOF); the working directory is a temporary one. With
`password` the default user needs it; with `user` (a name and its password) an ACL user is
created and the default user is disabled. `cluster=True` starts a one-node Redis Cluster
owning every slot, as ElastiCache Serverless and Memorystore Cluster present themselves.
`tls=True` serves TLS only (rediss://), with a self-signed certificate made by openssl.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

import redis

REDIS_SERVER = "/usr/bin/redis-server"
START_TIMEOUT = 20.0
POLL_SECONDS = 0.02


class RedisServer:
    def __init__(
        self,
        directory: Path,
        *,
        password: str | None = None,
        user: tuple[str, str] | None = None,
        cluster: bool = False,
        tls: bool = False,
    ) -> None:
        self.directory = directory
        self.password = password
        self.user = user
        self.cluster = cluster
        self.tls = tls
        self.certificate = directory / "redis-tls.pem"  # self-signed, for 127.0.0.1; its own CA
        if tls:
            _self_signed_certificate(self.certificate, directory / "redis-tls.key")
        self.port = _free_port()
        self.bus_port = _free_port()
        self.log = directory / f"redis-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """redis://[user:password@]127.0.0.1:port/0"""
        credentials = ""
        if self.user is not None:
            credentials = f"{quote(self.user[0])}:{quote(self.user[1])}@"
        elif self.password is not None:
            credentials = f":{quote(self.password)}@"
        if self.tls:
            return f"rediss://{credentials}127.0.0.1:{self.port}/0?ssl_ca_certs={self.certificate}"
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("not running")
        return self._process.pid

    def _command(self) -> list[str]:
        command = [REDIS_SERVER, "--bind", "127.0.0.1"]
        if self.tls:
            command += ["--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no"]
            command += ["--tls-cert-file", str(self.certificate)]
            command += ["--tls-key-file", str(self.directory / "redis-tls.key")]
            command += ["--tls-ca-cert-file", str(self.certificate)]
        else:
            command += ["--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        if self.password is not None:
            command += ["--requirepass", self.password]
        if self.user is not None:
            name, password = self.user
            command += ["--user", name, "on", f">{password}", "~*", "&*", "+@all"]
            command += ["--user", "default", "off"]
        if self.cluster:
            config = self.directory / f"nodes-{self.port}.conf"
            config.unlink(missing_ok=True)
            command += ["--cluster-enabled", "yes", "--cluster-config-file", str(config)]
            # Else the bus listens on port + 10000, which may be taken or above 65535.
            command += ["--cluster-port", str(self.bus_port)]
        return command

    def start(self) -> None:
        """Start (again, on the same port) and return once it answers, cluster slots served."""
        if self._process is not None:
            raise RuntimeError("already running")
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while self._cli("PING") != "True":
            self._wait_a_little(deadline, "did not answer PING")
        if self.cluster:
            self._cli("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
            while "cluster_state:ok" not in self._cli("CLUSTER", "INFO"):
                self._wait_a_little(deadline, "cluster did not reach cluster_state:ok")

    def _wait_a_little(self, deadline: float, what: str) -> None:
        assert self._process is not None
        if self._process.poll() is not None:
            output = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"redis-server exited with {self._process.returncode}:\n{output}")
        if time.monotonic() > deadline:
            self.stop()
            raise RuntimeError(f"redis-server {what} within {START_TIMEOUT} s")
        time.sleep(POLL_SECONDS)

    def _cli(self, *command: str) -> str:
        """One command's reply as text, or "" while the server cannot answer yet."""
        username, password = self.user if self.user is not None else (None, self.password)
        client = redis.Redis(
            host="127.0.0.1",
            port=self.port,
            username=username,
            password=password,
            socket_timeout=2,
            ssl=self.tls,
            ssl_ca_certs=str(self.certificate) if self.tls else None,
        )
        try:
            reply = client.execute_command(*command)  # type: ignore[no-untyped-call]
        except redis.RedisError:
            return ""
        finally:
            client.close()
        return str(reply.decode() if isinstance(reply, bytes) else reply)

    def kill(self) -> None:
        """SIGKILL: Redis vanishes without closing anything, as in a crash."""
        self._signal(signal.SIGKILL)
        assert self._process is not None
        self._process.wait()
        self._process = None

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers, as a hung Redis."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        os.kill(self.pid, sig)

    def stop(self) -> None:
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._process.pid, signal.SIGCONT)  # a paused server cannot handle TERM
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _self_signed_certificate(certificate: Path, key: Path) -> None:
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
    command += ["-keyout", str(key), "-out", str(certificate), "-subj", "/CN=127.0.0.1"]
    command += ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
