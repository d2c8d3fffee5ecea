"""Bedrock's streamed reply: Anthropic's own events in eventstream frames, relayed as SSE.

Observation (usage, first token, errors, the end-of-stream checks) is the pass-through's
(`RelayingReply`); only the framing differs. Each event is written as it came, but for two
changes so the client cannot tell Bedrock served it: `message_start` names the client's model,
and `message_stop` loses the `amazon-bedrock-invocationMetrics` Bedrock adds to it.
"""

from __future__ import annotations

import orjson

from ...sse import SSEEvent, StreamDecoder, encode
from ..anthropic.stream import RelayingReply
from .eventstream import EventStreamDecoder

METRICS = "amazon-bedrock-invocationMetrics"


class EventStreamReply(RelayingReply):
    upstream = "bedrock"

    __slots__ = ()

    def decoder(self) -> StreamDecoder:
        return EventStreamDecoder()

    def _frames(self, chunk: bytes, events: list[SSEEvent]) -> bytes:
        return b"".join(encode(event.event, self._rewritten(event)) for event in events)

    def _rewritten(self, event: SSEEvent) -> object:
        """The event's JSON, as it came (not re-serialized) unless it names the model or
        carries Bedrock's metrics."""
        if event.event not in ("message_start", "message_stop"):
            return orjson.Fragment(event.data)
        payload = orjson.loads(event.data)  # _observe already refused one that is not JSON
        if event.event == "message_start" and isinstance(payload.get("message"), dict):
            payload["message"]["model"] = self._client_model
        else:
            payload.pop(METRICS, None)
        return payload
