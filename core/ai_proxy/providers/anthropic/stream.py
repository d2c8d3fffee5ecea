"""Watch an Anthropic stream go by: the bytes are relayed untouched (the gateway does that,
see `relays_raw`); this only notes usage and errors for the request record, and whether the
stream ended properly."""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import UpstreamError
from ...sse import SSEEvent
from ..base import StreamTranslator
from ..blocks import Event

# Only these events carry what we observe; content deltas are never decoded.
_OBSERVED = frozenset({"message_start", "message_delta", "message_stop", "error"})


class AnthropicStreamObserver(StreamTranslator):
    relays_raw = True

    def __init__(self, client_model: str) -> None:
        self._client_model = client_model
        self._started = False
        self._stopped = False
        self._errored = False
        self._delta_seen = False
        self._renamed = False

    def feed(self, event: SSEEvent) -> list[Event]:
        if event.event == "content_block_delta" and not self._delta_seen:
            # For time-to-first-token: only the type of this marker is ever read.
            self._delta_seen = True
            return [{"type": "content_block_delta"}]
        if event.event not in _OBSERVED:
            return []
        return super().feed(event)

    def feed_payload(self, payload: Any) -> list[Event]:
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            raise UpstreamError(f"anthropic sent an unexpected stream event: {str(payload)[:200]}")
        # What is observed is rebuilt in the exact shape RequestRecord reads, so an event of a
        # shape we did not expect is relayed all the same and simply not counted.
        kind = payload["type"]
        if kind == "message_start":
            self._started = True
            message = payload.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            if isinstance(usage, dict):
                return [{"type": "message_start", "message": {"usage": usage}}]
        elif kind == "message_delta" and isinstance(payload.get("usage"), dict):
            return [{"type": "message_delta", "usage": payload["usage"]}]
        elif kind == "message_stop":
            self._stopped = True
        elif kind == "error":
            self._errored = True
            error = payload.get("error")
            error = error if isinstance(error, dict) else {}
            return [
                {
                    "type": "error",
                    "error": {
                        "type": str(error.get("type", "api_error")),
                        "message": str(error.get("message", "")),
                    },
                }
            ]
        return []

    def finish(self) -> list[Event]:
        if self._errored or self._stopped:
            return []
        if not self._started:
            raise UpstreamError("anthropic answered with an empty stream")
        raise UpstreamError("anthropic's stream ended before message_stop")

    def relay_frames(self, frames: bytes) -> bytes:
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
            return frames  # relayed as it came; feed() reports what is wrong with it
        return b"event: message_start\ndata: " + orjson.dumps(event) + separator + rest

    def relay_body(self, body: bytes) -> tuple[bytes, dict[str, Any]]:
        """Anthropic's Message as it came, but for `model`: the name the client asked for."""
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamError(f"anthropic answered with invalid JSON: {body[:200]!r}") from None
        if not isinstance(message, dict) or message.get("type") != "message":
            raise UpstreamError(f"anthropic answered with an unexpected body: {body[:200]!r}")
        usage = message.get("usage")
        if message.get("model") != self._client_model:
            message["model"] = self._client_model
            body = orjson.dumps(message)
        return body, usage if isinstance(usage, dict) else {}
