"""What one request did, gathered as it runs and reported once when it ends."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    method: str
    path: str
    started: float
    status: int = 0
    client_model: str | None = None
    provider: str | None = None
    upstream_model: str | None = None
    stream: bool = False
    fallbacks: int = 0
    error_type: str | None = None
    first_event: float | None = None
    finished: float | None = None
    usage: dict[str, int] = field(default_factory=dict)

    def observe_usage(self, usage: dict[str, Any]) -> None:
        for key, value in usage.items():
            if isinstance(value, int):
                self.usage[key] = value

    def observe_events(self, events: list[dict[str, Any]]) -> None:
        if self.first_event is None:
            self.first_event = time.perf_counter()
        for event in events:
            kind = event["type"]
            if kind == "message_start":
                self.observe_usage(event["message"]["usage"])
            elif kind == "message_delta":
                self.observe_usage(event["usage"])
