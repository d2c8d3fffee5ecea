"""Graceful shutdown: on SIGTERM, fail readiness at once, keep serving, then let the server stop.

uvicorn stops on SIGTERM by closing its listener and then waiting for in-flight requests and
streams (up to `timeout_graceful_shutdown`, which `ai-proxy` sets from
`server.shutdown_timeout_seconds`). Closing the listener at once refuses the requests a load
balancer still sends in the seconds it takes to notice the instance is going away, so we
stand in front of the server's own SIGTERM handler:

    SIGTERM ─► gateway.draining = True (/health/ready -> 503 "draining"), requests still served
            ─► server.drain_seconds later: the server's handler runs: listener closes,
               in-flight streams finish (up to the shutdown timeout), lifespan shutdown closes
               the upstream connections
    a second SIGTERM during the drain skips the rest of it.

Installed from the ASGI lifespan startup, so it works however uvicorn was started (`ai-proxy`,
`uvicorn --factory`, each of `--workers N`): by then the server has put its own handler in
place, which is the one we defer to. Where nothing owns SIGTERM (Lambda, a server running in a
thread) nothing is installed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

log = logging.getLogger("ai_proxy.lifecycle")

SignalHandler = Callable[[int, FrameType | None], Any]


class Drainable(Protocol):
    draining: bool


class DrainOnSigterm:
    def __init__(
        self,
        gateway: Drainable,
        drain_seconds: float,
        previous: SignalHandler,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.gateway = gateway
        self.drain_seconds = drain_seconds
        self._previous = previous
        self._loop = loop
        self._handed_over = False

    @classmethod
    def install(cls, gateway: Drainable, drain_seconds: float) -> DrainOnSigterm | None:
        """Wrap the running server's SIGTERM handler; None when there is none to wrap."""
        if threading.current_thread() is not threading.main_thread():
            return None  # signal handlers belong to the main thread
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):
            return None  # SIG_DFL / SIG_IGN: no server here stops gracefully on SIGTERM
        drain = cls(gateway, drain_seconds, previous, asyncio.get_running_loop())
        signal.signal(signal.SIGTERM, drain._on_sigterm)
        return drain

    def uninstall(self) -> None:
        if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
            signal.signal(signal.SIGTERM, self._previous)

    def _on_sigterm(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler runs between two bytecodes of whatever the main thread was doing:
        # set a flag, hand the rest to the loop, never log from here.
        if self.gateway.draining or self.drain_seconds <= 0:
            self.gateway.draining = True
            self._hand_over(sig, frame)
            return
        self.gateway.draining = True
        self._loop.call_soon_threadsafe(self._start_timer, sig)

    def _start_timer(self, sig: int) -> None:
        log.info("draining", extra={"drain_seconds": self.drain_seconds})
        self._loop.call_later(self.drain_seconds, self._hand_over, sig, None)

    def _hand_over(self, sig: int, frame: FrameType | None) -> None:
        if self._handed_over:
            return
        self._handed_over = True
        self._previous(sig, frame)
