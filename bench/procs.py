"""Processes of the benchmark: start, pin to a core, wait until ready, sample CPU and memory."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Pinning:
    """Gateway on its own core; load generator, fake upstream and this script on the other.

    On a single-core machine nothing is pinned (and the numbers say so)."""

    def __init__(self, enabled: bool) -> None:
        cores = sorted(os.sched_getaffinity(0))
        self.enabled = enabled and len(cores) >= 2 and shutil.which("taskset") is not None
        self.client_core = cores[0]
        self.gateway_core = cores[1] if len(cores) >= 2 else cores[0]

    def pin_self(self) -> None:
        if self.enabled:
            os.sched_setaffinity(0, {self.client_core})

    def gateway_prefix(self) -> list[str]:
        return ["taskset", "-c", str(self.gateway_core)] if self.enabled else []

    def client_prefix(self) -> list[str]:
        return ["taskset", "-c", str(self.client_core)] if self.enabled else []

    def describe(self) -> str:
        if not self.enabled:
            return "not pinned (needs 2 cores and taskset)"
        return (
            f"gateway on core {self.gateway_core}; load generator, fake upstream and "
            f"orchestrator on core {self.client_core}"
        )


class Process:
    """A child process whose output goes to a log file (never a pipe that could fill up)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            list(argv),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 10) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()

    def cpu_seconds(self) -> float:
        """utime + stime of the process (all its threads), from /proc/<pid>/stat."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rfind(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def memory_mb(self) -> tuple[float, float]:
        """(current RSS, peak RSS) in MB, from /proc/<pid>/status."""
        values = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
        return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)

    def loaded_libraries(self) -> set[str]:
        """Which of uvloop / httptools are mapped into the process (proves they are used)."""
        maps = Path(f"/proc/{self.pid}/maps").read_text()
        return {lib for lib in ("uvloop", "httptools") if f"/{lib}/" in maps}


def post(host: str, port: int, path: str, body: bytes, timeout: float = 10) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", path, body, {"content-type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_until_answers(
    process: Process, port: int, path: str, body: bytes, timeout: float = 60
) -> float:
    """Poll with a real request until it gets a 200; seconds since the process was started."""
    deadline = time.perf_counter() + timeout
    last = ""
    while time.perf_counter() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited:\n{process.log_tail()}")
        try:
            status, answer = post("127.0.0.1", port, path, body)
        except OSError as exc:
            last = repr(exc)
            time.sleep(0.002)
            continue
        if status == 200:
            return time.perf_counter() - process.started
        last = f"HTTP {status}: {answer[:300]!r}"
        time.sleep(0.05)
    raise RuntimeError(f"{process.name} did not answer 200 in {timeout}s ({last})")


def wait_for_line(process: Process, text: str, timeout: float) -> str:
    """Wait until the process's log has a line containing text; return that line."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        for line in process.log_path.read_text(errors="replace").splitlines():
            if text in line:
                return line
        if not process.alive():
            raise RuntimeError(f"{process.name} exited:\n{process.log_tail()}")
        time.sleep(0.02)
    raise RuntimeError(f"{process.name} not ready in {timeout}s:\n{process.log_tail()}")


def python_script(name: str) -> list[str]:
    """A console script installed next to this interpreter, else `python -m`."""
    script = Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", name.replace("-", "_") + ".cli"]
