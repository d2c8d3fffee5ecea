"""Run a server command in a child process on a free 127.0.0.1 port, as a platform would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT = 30.0
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This environment without our own settings or cloud credentials, plus `extra`."""
    dropped = ("AI_PROXY_", "AWS_", "GOOGLE_", "AZURE_", "PORT")
    env = {name: value for name, value in os.environ.items() if not name.startswith(dropped)}
    env.update(extra)
    return env


class ServerExited(RuntimeError):
    def __init__(self, returncode: int, output: str) -> None:
        super().__init__(f"server exited with {returncode}:\n{output}")
        self.returncode = returncode
        self.output = output


@contextmanager
def serve(command: list[str], env: Mapping[str, str], port: int) -> Iterator[str]:
    """Start `command`, wait for `port` to accept connections, yield its URL; SIGTERM at end."""
    process = subprocess.Popen(
        command,
        env=child_env(env),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise ServerExited(process.returncode, output)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command} did not listen on {port}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout:
            process.stdout.close()


def run_to_exit(command: list[str], env: Mapping[str, str], timeout: float = 30) -> ServerExited:
    """Run a server that is expected to stop by itself (a failed start-up)."""
    result = subprocess.run(
        command,
        env=child_env(env),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return ServerExited(result.returncode, result.stdout)
