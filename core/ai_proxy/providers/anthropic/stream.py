"""The pass-through reply: upstream already speaks Anthropic's events, so they go to the
client as they came, `message_start` naming the model the client asked for. On the way, usage,
the first token and error events are noted on the request's record, and the stream is checked
to have ended properly. Content deltas are never decoded.

What differs between upstreams that speak Anthropic's events is only the framing:
`RelayingReply` relays Anthropic's own SSE bytes, cut at event boundaries (a ping or an error
frame of ours never lands inside one of upstream's events); a subclass whose upstream frames
the events otherwise (Bedrock's eventstream) decodes them with its own `decoder()` and writes
them as SSE with `_frames`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from ...errors import UpstreamError
from ...observability import RequestRecord
from ...sse import SSEEvent, complete_events_end
from ..base import Reply, event_payload
from ..blocks import Event

# Only these events carry what we observe.
_OBSERVED = frozenset({"message_start", "message_delta", "message_stop", "error"})


class RelayingReply(Reply):
    #: who is upstream, in the errors about its stream
    upstream = "anthropic"

    __slots__ = (
        "_client_model",
        "_delta_seen",
        "_errored",
        "_held",
        "_renamed",
        "_started",
        "_stopped",
    )

    def __init__(self, client_model: str) -> None:
        self._client_model = client_model
        self._held = b""  # the start of an event not yet complete
        self._started = False
        self._stopped = False
        self._errored = False
        self._delta_seen = False
        self._renamed = False

    def feed(self, chunk: bytes, events: list[SSEEvent], record: RequestRecord) -> Iterator[bytes]:
        observed: list[Event] = []
        for event in events:
            if event.event == "content_block_delta":
                if not self._delta_seen:
                    self._delta_seen = True
                    record.observe_first_token()
            elif event.event in _OBSERVED:
                observed.extend(self._observe(event))
        if observed:
            record.observe_events(observed)
        frames = self._frames(chunk, events)
        if frames:
            yield frames

    def _frames(self, chunk: bytes, events: list[SSEEvent]) -> bytes:
        """The client's bytes for one chunk: upstream's own, up to the last complete event."""
        held = self._held + chunk
        end = complete_events_end(held)
        if not end:
            self._held = held
            return b""
        self._held = held[end:]
        return self._renamed_start(held[:end])

    def finish(self, record: RequestRecord) -> bytes:
        if self._errored or self._stopped:
            return b""
        if not self._started:
            raise UpstreamError(f"{self.upstream} answered with an empty stream")
        raise UpstreamError(f"{self.upstream}'s stream ended before message_stop")

    def body(self, body: bytes, record: RequestRecord) -> bytes:
        """Anthropic's Message as it came, but for `model`: the name the client asked for."""
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamError(
                f"{self.upstream} answered with invalid JSON: {body[:200]!r}"
            ) from None
        if not isinstance(message, dict) or message.get("type") != "message":
            raise UpstreamError(f"{self.upstream} answered with an unexpected body: {body[:200]!r}")
        usage = message.get("usage")
        record.observe_usage(usage if isinstance(usage, dict) else {})
        if message.get("model") != self._client_model:
            message["model"] = self._client_model
            body = orjson.dumps(message)
        return body

    def _observe(self, event: SSEEvent) -> list[Event]:
        payload = event_payload(event)
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            raise UpstreamError(
                f"{self.upstream} sent an unexpected stream event: {str(payload)[:200]}"
            )
        # What is observed is rebuilt in the exact shape RequestRecord reads, so an event of a
        # shape we did not expect is relayed all the same and simply not counted.
        kind = payload["type"]
        if kind == "message_start":
            self._started = True
            message = payload.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            if isinstance(usage, dict):
                return [{"type": "message_start", "message": {"usage": usage}}]
        elif kind == "message_delta":
            usage, delta = payload.get("usage"), payload.get("delta")
            if isinstance(usage, dict) or isinstance(delta, dict):
                stop_reason = delta.get("stop_reason") if isinstance(delta, dict) else None
                if not isinstance(stop_reason, str):
                    stop_reason = None
                return [
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": stop_reason},
                        "usage": usage if isinstance(usage, dict) else {},
                    }
                ]
        elif kind == "message_stop":
            self._stopped = True
        elif kind == "error":
            self._errored = True
            return [_error_event(payload.get("error"))]
        return []

    def _renamed_start(self, frames: bytes) -> bytes:
        """Bytes as they came, except that `message_start` names the model the client asked
        for (as the non-streaming body does); every later event is untouched."""
        if self._renamed:
            return frames
        self._renamed = True
        first, separator, rest = frames.partition(b"\n\n")
        name, _, data = first.partition(b"\n")
        if name != b"event: message_start" or not data.startswith(b"data: "):
            return frames
        try:
            event = orjson.loads(data[6:])
            event["message"]["model"] = self._client_model
        except (orjson.JSONDecodeError, TypeError, KeyError):
            return frames  # relayed as it came; _observe reports what is wrong with it
        return b"event: message_start\ndata: " + orjson.dumps(event) + separator + rest


def _error_event(error: Any) -> Event:
    error = error if isinstance(error, dict) else {}
    return {
        "type": "error",
        "error": {
            "type": str(error.get("type", "api_error")),
            "message": str(error.get("message", "")),
        },
    }
