"""A fleet of real `ai-proxy` processes for the fleet tests: each on its own port, configured
by environment as a platform configures it, some under libfaketime with a skewed wall clock.

    with Fleet(environment, skews_hours=(0, 3, -2), logs=tmp_path) as fleet:
        fleet.gateways[1].url   # http://127.0.0.1:<port>, its clock three hours ahead

Each process writes its output to a file (a pipe nobody reads fills up and blocks the
server); `Fleet.output()` is what a failing test shows. Every process is stopped when the
block ends, whatever happened inside it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

from tests.adapters.processes import ROOT, child_env, free_port

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
READY_TIMEOUT = 60.0  # a cold start of three processes on two busy cores
STOP_TIMEOUT = 10.0
OUTPUT_TAIL_LINES = 40


def skewed_clock(hours: int) -> dict[str, str]:
    """The environment that shifts a process's wall clock by `hours` (none for 0).

    Only the wall clock moves: a skewed monotonic clock would be no clock skew at all, and
    one far below zero confuses event loops."""
    if not hours:
        return {}
    return {
        "LD_PRELOAD": LIBFAKETIME,
        "FAKETIME": f"{hours:+d}h",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


class GatewayProcess:
    """`ai-proxy --host 127.0.0.1 --port N`, its settings all from `environment`."""

    def __init__(self, name: str, environment: Mapping[str, str], skew_hours: int, logs: Path):
        self.name = name
        self.skew_hours = skew_hours
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = logs / f"{name}.log"
        self._environment = {
            **environment,
            **skewed_clock(skew_hours),
            "PYTHONUNBUFFERED": "1",
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self._log = self.log_path.open("wb")
        command = [str(Path(sys.executable).with_name("ai-proxy")), "--host", "127.0.0.1"]
        self._process = subprocess.Popen(
            [*command, "--port", str(self.port)],
            env=child_env(self._environment),
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, deadline: float) -> None:
        """Until /health/ready answers 200; a process that exits or never gets there fails."""
        while True:
            if self._process is None or self._process.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.output()}")
            try:
                if httpx.get(self.url + "/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not become ready:\n{self.output()}")
            time.sleep(0.05)

    @property
    def exited(self) -> int | None:
        """The exit status of a process that has stopped by itself, else None."""
        return None if self._process is None else self._process.poll()

    def output(self, lines: int | None = OUTPUT_TAIL_LINES) -> str:
        """Its last `lines` lines of output (None: all of it)."""
        if not self.log_path.exists():
            return "(no output)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text if lines is None else text[-lines:])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


class Fleet:
    """One gateway process per entry of `skews_hours`, all with the same `environment`."""

    def __init__(
        self, environment: Mapping[str, str], *, skews_hours: Sequence[int], logs: Path
    ) -> None:
        self.gateways = [
            GatewayProcess(f"gateway-{index}", environment, hours, logs)
            for index, hours in enumerate(skews_hours)
        ]

    def url(self, index: int) -> str:
        """Round robin: the gateway that serves request number `index`."""
        return self.gateways[index % len(self.gateways)].url

    def output(self) -> str:
        """Each process's last lines, and how it ended if it stopped by itself."""
        parts = []
        for gateway in self.gateways:
            status = "running" if gateway.exited is None else f"exited {gateway.exited}"
            parts.append(f"--- {gateway.name} ({status}) ---\n{gateway.output()}")
        return "\n".join(parts)

    def __enter__(self) -> Self:
        try:
            for gateway in self.gateways:
                gateway.start()
            deadline = time.monotonic() + READY_TIMEOUT
            for gateway in self.gateways:
                gateway.wait_ready(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        print(self.output())  # pytest shows a test's output when it fails
        self.stop()

    def stop(self) -> None:
        for gateway in self.gateways:
            gateway.stop()
