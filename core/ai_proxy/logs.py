"""Structured logs: JSON lines on stdout, one access line per request, secrets kept out.

Every line is one JSON object: `ts`, `level`, `logger`, `msg`, the `request_id` of the request
being served (from a context variable, so a library's log line inside a request carries it
too), and any `extra` attributes of the record. `log.format = "text"` gives the same fields on
one human-readable line for local runs.

What is never logged: API keys, client keys, request headers, message content. No header is
ever handed to a logger; provider keys the gateway holds are registered here and replaced by
`[redacted]` in any line that would carry one (an exception message, say); foreign text that
may quote a client's input (upstream error messages, and bodies when `log.log_bodies` is on)
is also scrubbed of anything shaped like a key.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import urlsplit

import orjson

from .config import Config, LogConfig
from .observability import REQUEST_ID, RequestRecord

ACCESS_LOGGER = "ai_proxy.access"
LIFECYCLE_LOGGER = "ai_proxy.lifecycle"
REDACTED = "[redacted]"
FIELDS = "fields"  # a record attribute holding a dict of fields, merged into the line
MAX_BODY_CHARS = 16_384
MAX_ERROR_CHARS = 500
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

# LogRecord's own attributes; anything else on a record came from `extra` (or a record
# factory, like the Lambda adapter's aws_request_id) and is emitted as a field.
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}

# Shapes of well-known credentials: Google API keys, OpenAI/Anthropic keys, our client keys
# (ai_proxy.auth), AWS access key ids, bearer tokens. Used on foreign text only (error
# messages, bodies); our own fields are never keys.
_KEY_SHAPES = re.compile(
    r"AIza[0-9A-Za-z_\-]{20,}"
    r"|sk-[A-Za-z0-9_\-]{16,}"
    r"|aip_[A-Za-z0-9_\-]{16,}"
    r"|AKIA[0-9A-Z]{16}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,}"
)
_known_secrets: frozenset[str] = frozenset()


def register_secrets(values: Iterable[str]) -> None:
    """Keys the process holds; they are replaced in every log line from now on.

    Old keys stay registered after a rotation: a line quoting a retired key is still a leak.
    """
    global _known_secrets
    new = {value for value in values if len(value) >= 8}
    if not new <= _known_secrets:
        _known_secrets = _known_secrets | new


def redact_known(text: str) -> str:
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact(text: str) -> str:
    """Known keys and anything shaped like a key, for text that may quote a client's input."""
    return _KEY_SHAPES.sub(REDACTED, redact_known(text))


def redact_bytes(body: bytes) -> bytes:
    """`redact` for an error body about to be sent (rare: the cost is not on the happy path)."""
    text = body.decode("utf-8", errors="replace")
    redacted = redact(text)
    return body if redacted == text else redacted.encode()


_second: tuple[int, str] = (-1, "")


def _timestamp(created: float) -> str:
    """ISO 8601 UTC with milliseconds; the part up to the second is reused within a second."""
    global _second
    whole = int(created)
    if whole != _second[0]:
        _second = (whole, datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_second[1]}.{int((created - whole) * 1000):03d}Z"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ts": _timestamp(record.created),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
        "pid": record.process,  # which worker, with `ai-proxy --workers N`
    }
    request_id = REQUEST_ID.get()
    if request_id is not None:
        entry["request_id"] = request_id
    attributes = record.__dict__
    fields = attributes.get(FIELDS)
    if fields is not None:
        entry.update(fields)
    extras = attributes.keys() - _STANDARD_ATTRIBUTES
    if len(extras) > (fields is not None):
        for key in sorted(extras):
            if key != FIELDS:
                entry[key] = attributes[key]
    return entry


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = _fields(record)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return redact_known(orjson.dumps(entry, default=str).decode())


class TextFormatter(logging.Formatter):
    """`ts LEVEL logger [request_id] msg key=value ...` for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        entry = _fields(record)
        head = f"{entry.pop('ts')} {entry.pop('level').upper():7} {entry.pop('logger')}"
        del entry["pid"]
        request_id = entry.pop("request_id", None)
        if request_id is not None:
            head += f" [{request_id}]"
        message = entry.pop("msg")
        pairs = " ".join(
            f"{key}={value}" for key, value in entry.items() if value is not None and value != ""
        )
        line = f"{head} {message} {pairs}" if pairs else f"{head} {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact_known(line)


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler `configure_logging` installed, so calling it again replaces it."""


def configure_logging(config: LogConfig, stream: IO[str] | None = None) -> None:
    """Make the process's logging ours: one handler on the root logger, JSON (or text) lines.

    Handlers installed earlier on the root logger (a platform's default, e.g. the Lambda
    runtime's) are removed so a line is not written twice; uvicorn's loggers lose their own
    handlers and propagate here, so the server's lines are JSON too.
    """
    handler = _OurHandler(sys.stdout if stream is None else stream)
    handler.setFormatter(JsonFormatter() if config.format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(LEVELS[config.level])
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True
        server_logger.setLevel(logging.NOTSET)


class AccessLog:
    """The access line: one per request, when it ends (a stream ends when its last frame went)."""

    def __init__(self) -> None:
        self._log = logging.getLogger(ACCESS_LOGGER)

    def request_started(self, record: RequestRecord) -> None:
        pass

    def stream_started(self, record: RequestRecord) -> None:
        pass

    def secret_refresh_failed(self, source: str) -> None:
        pass

    def limit_store_failed(self, store: str) -> None:
        pass  # ai_proxy.quota.policy logs its own warning, at most one per interval

    def request_finished(self, record: RequestRecord) -> None:
        failed = record.status >= 500 or (record.error_type is not None and record.status < 400)
        level = logging.WARNING if failed else logging.INFO
        log = self._log
        if not log.isEnabledFor(level):
            return
        started = record.started
        finished = record.finished if record.finished is not None else started
        usage = record.usage
        first = record.first_token if record.first_token is not None else record.first_event
        upstream_ms = None
        if record.upstream_started is not None and record.upstream_finished is not None:
            upstream_ms = round((record.upstream_finished - record.upstream_started) * 1000, 2)
        fields = {
            "request_id": record.request_id,
            "method": record.method,
            "path": record.path[:200],
            "status": record.status,
            "model": record.client_model[:200] if record.client_model is not None else None,
            "provider": record.provider,
            "upstream_model": record.upstream_model,
            "stream": record.stream,
            "latency_ms": round((finished - started) * 1000, 2),
            "upstream_ms": upstream_ms,
            "ttft_ms": round((first - started) * 1000, 2) if record.stream and first else None,
            "input_tokens": usage.get("input_tokens"),
            "output_tokens": usage.get("output_tokens"),
            "cache_read_tokens": usage.get("cache_read_input_tokens"),
            "cache_creation_tokens": usage.get("cache_creation_input_tokens"),
            "fallbacks": record.fallbacks,
            "retries": record.retries,
            "error_type": record.error_type,
            "error": error_for_log(record.error_message) if record.error_message else None,
            "client": record.client_name,
        }
        # Made by hand: Logger.log() would walk the stack for a caller we never print.
        line = log.makeRecord(ACCESS_LOGGER, level, "", 0, "request", (), None)
        line.fields = fields
        log.handle(line)


def error_for_log(message: str) -> str:
    """An error message as it may appear in a log line: short, keys and key shapes removed."""
    return redact(message[:MAX_ERROR_CHARS])


def log_body(kind: str, body: bytes) -> None:
    """`log.log_bodies = true` only: a request or response body, keys still removed."""
    text = body[:MAX_BODY_CHARS].decode("utf-8", errors="replace")
    logging.getLogger("ai_proxy.bodies").info(
        kind, extra={"body": redact(text), "truncated": len(body) > MAX_BODY_CHARS}
    )


def log_startup(
    config: Config, providers: list[str], base_urls: Mapping[str, str], metrics: str
) -> None:
    """The start-up line: what this instance will do, never a key."""
    # A cloud provider without its region or resource has no URL yet: it is left out.
    upstreams = {name: _origin(url) for name, url in base_urls.items() if url}
    aliases = {
        alias: chain if isinstance(chain, list) else [chain]
        for alias, chain in config.routing.aliases.items()
    }
    logging.getLogger(LIFECYCLE_LOGGER).info(
        "starting",
        extra={
            "providers": providers,
            "upstreams": upstreams,
            "aliases": aliases,
            "log_level": config.log.level,
            "log_bodies": config.log.log_bodies,
            "metrics": metrics,
            "drain_seconds": config.server.drain_seconds,
            "shutdown_timeout_seconds": config.server.shutdown_timeout_seconds,
        },
    )


def _origin(url: str) -> str:
    """scheme://host[:port] only: a base URL may carry credentials or tokens."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
