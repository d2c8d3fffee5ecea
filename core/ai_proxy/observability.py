"""What one request did, gathered as it runs and reported once when it ends.

The gateway fills a `RequestRecord` as the request goes, then hands it to each `Observer`
exactly once: for a JSON answer when `handle` returns, for a stream when the stream ends. The
access log (`logs.AccessLog`), Prometheus (`metrics.PrometheusMetrics`) and CloudWatch EMF
(`emf.EmfMetrics`) are observers; an adapter can add its own to `Gateway.observers`.

Label values that come from clients (model names, paths) are bounded here, once, for every
observer: `BoundedLabels` keeps at most a fixed number of model names, so a client sending a
thousand made-up names cannot add a thousand metric series.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

# The label of every value we do not name, and of each path: the route table's.
from .routes import OTHER as OTHER
from .routes import route_label as route_label

if TYPE_CHECKING:
    from .config import Config

#: The id of the request this task serves; every log line of the request carries it.
REQUEST_ID: ContextVar[str | None] = ContextVar("ai_proxy_request_id", default=None)

NONE = "none"  # the request never got that far (no provider chosen, no model parsed)
MAX_INCOMING_ID = 128

STATUS_CLASSES = ("0xx", "1xx", "2xx", "3xx", "4xx", "5xx")


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def request_id_from_headers(headers: Mapping[str, str]) -> str:
    """The caller's id when it sent a usable one, else a new one.

    `x-request-id` wins; a W3C `traceparent` lends its trace id, so our lines join the caller's
    trace. Anything long or unprintable is ignored: the id is echoed in a response header and
    in logs, where a CR/LF would be an injection.
    """
    incoming = headers.get("x-request-id", "")
    if incoming and len(incoming) <= MAX_INCOMING_ID and incoming.isprintable():
        return incoming
    traceparent = headers.get("traceparent", "")
    if traceparent:
        trace_id = _trace_id(traceparent)
        if trace_id is not None:
            return trace_id
    return new_request_id()


def _trace_id(traceparent: str) -> str | None:
    parsed = parse_traceparent(traceparent)
    return None if parsed is None else f"{parsed[0]:032x}"


def parse_traceparent(traceparent: str | None) -> tuple[int, int, int] | None:
    """A W3C `traceparent`'s trace id, parent (span) id and flags; None if unusable."""
    # version "-" trace-id (32 hex) "-" parent-id (16 hex) "-" flags (2 hex)
    parts = (traceparent or "").strip().split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16 or parts[0] == "ff":
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3][:2], 16)
    except ValueError:
        return None
    if trace_id == 0 or span_id == 0:
        return None  # all zeros is the spec's "invalid"
    return trace_id, span_id, flags


def status_class(status: int) -> str:
    index = status // 100
    return STATUS_CLASSES[index] if 0 <= index < len(STATUS_CLASSES) else OTHER


class BoundedLabels:
    """Model names as label values, never more than a fixed number of them.

    A name is its own label when configured (an alias, an alias's target) or once it has been
    served successfully, up to `limit` such names; every other name is `other`. Failed requests
    never admit a name, so made-up names (404s) always fall into `other`.
    """

    MAX_NAME = 100

    def __init__(self, known: Iterable[str], limit: int) -> None:
        self._names: set[str] = set(known)
        self._capacity = len(self._names) + limit

    def get(self, name: str | None, admit: bool) -> str:
        if name is None:
            return NONE
        if name in self._names:
            return name
        if (
            admit
            and len(self._names) < self._capacity
            and len(name) <= self.MAX_NAME
            and name.isprintable()
        ):
            self._names.add(name)
            return name
        return OTHER


def model_labels(config: Config) -> tuple[BoundedLabels, BoundedLabels]:
    """Labels for client-visible models (aliases known) and upstream models (their targets)."""
    aliases = config.routing.aliases
    targets = [
        entry.partition("/")[2] or entry
        for chain in aliases.values()
        for entry in ([chain] if isinstance(chain, str) else chain)
    ]
    limit = config.metrics.max_model_labels
    return BoundedLabels(aliases, limit), BoundedLabels(targets, limit)


@dataclass(slots=True)
class TraceContext:
    """A traced request's ids, chosen when it starts (ai_proxy.tracing), so that each upstream
    attempt can be sent the W3C `traceparent` of its own span."""

    trace_id: int
    span_id: int  # the request's span
    parent_span_id: int | None  # the caller's span, from its traceparent
    flags: int  # W3C trace-flags (01: sampled)
    propagate: bool  # send traceparent upstream


@dataclass(slots=True)
class Attempt:
    """One upstream exchange: each retry and each fallback target adds one.

    `finished` is set when the attempt failed; the one that served ends with the request
    (`RequestRecord.upstream_finished`).
    """

    provider: str
    model: str
    started: float
    span_id: int = 0  # traced only: the parent id upstream was sent
    finished: float | None = None
    status: int = 0
    error_type: str | None = None


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
    fallbacks: int = 0  # targets tried after the first
    retries: int = 0  # repeated attempts on the same target
    error_type: str | None = None
    error_message: str | None = None
    client_name: str | None = None  # the client key's name, once clients authenticate
    limit_refused: str | None = None  # the key's limit that refused it (ai_proxy.quota)
    lease: str | None = None  # admitted by the limit store: released when the request settles
    settled: bool = False  # the limit store was told how the request ended
    upstream_started: float | None = None  # the last attempt's request went out
    upstream_finished: float | None = None  # its last byte came back
    first_event: float | None = None
    first_token: float | None = None  # first content delta of a stream
    finished: float | None = None
    usage: dict[str, int] = field(default_factory=dict)
    stop_reason: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    traceparent: str | None = None  # the caller's W3C header, for a tracing observer
    trace: TraceContext | None = None  # set by a tracing observer when the request starts
    # Bookkeeping for observers: counted in the in-flight gauges, an SSE body is open,
    # already reported (reporting happens once even when two layers try).
    in_flight: bool = False
    streaming: bool = False
    reported: bool = False

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error_type is None

    def observe_usage(self, usage: dict[str, Any]) -> None:
        for key, value in usage.items():
            if isinstance(value, int):
                self.usage[key] = value

    def begin_attempt(self, provider: str, model: str, headers: dict[str, str]) -> Attempt:
        """An upstream request is about to go out; when traced, `headers` gets its traceparent."""
        attempt = Attempt(provider, model, time.perf_counter())
        trace = self.trace
        if trace is not None:
            attempt.span_id = secrets.randbits(64) or 1
            if trace.propagate:
                headers["traceparent"] = (
                    f"00-{trace.trace_id:032x}-{attempt.span_id:016x}-{trace.flags:02x}"
                )
        self.attempts.append(attempt)
        return attempt

    def attempt_failed(self, status: int, error_type: str) -> None:
        """The attempt under way failed (a retry or the next target may follow)."""
        if self.attempts and self.attempts[-1].finished is None:
            attempt = self.attempts[-1]
            attempt.finished, attempt.status = time.perf_counter(), status
            attempt.error_type = error_type

    def observe_first_token(self) -> None:
        """A relayed stream's first content delta (its events are not decoded into ours)."""
        now = time.perf_counter()
        if self.first_event is None:
            self.first_event = now
        if self.first_token is None:
            self.first_token = now

    def observe_events(self, events: list[dict[str, Any]]) -> None:
        if self.first_event is None:
            self.first_event = time.perf_counter()
        for event in events:
            kind = event["type"]
            if kind == "content_block_delta":
                if self.first_token is None:
                    self.first_token = time.perf_counter()
            elif kind == "message_start":
                self.observe_usage(event["message"]["usage"])
            elif kind == "message_delta":
                self.observe_usage(event["usage"])
                self.stop_reason = event["delta"].get("stop_reason") or self.stop_reason
            elif kind == "error":
                # A relayed upstream error event (pass-through streams), as its own type says.
                self.error_type = str(event["error"]["type"])
                self.error_message = str(event["error"].get("message", ""))


class Observer(Protocol):
    """Told about every request. Called on the event loop: must not block or raise."""

    def request_started(self, record: RequestRecord) -> None: ...

    def stream_started(self, record: RequestRecord) -> None: ...

    def request_finished(self, record: RequestRecord) -> None: ...

    def secret_refresh_failed(self, source: str) -> None: ...

    def limit_store_failed(self, store: str) -> None:
        """A limit store call failed (ai_proxy.quota.policy); `store` is memory or redis."""
