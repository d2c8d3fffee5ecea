"""What every provider implements: build the upstream request, translate what comes back.

Providers are pure translation: no sockets, no awaits. The gateway owns all I/O, so a
provider is tested with plain values and every provider streams through the same loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..anthropic.envelope import ClientRequest
from ..config import ProviderConfig
from ..errors import GatewayError, UpstreamError, from_upstream_status
from ..sse import SSEEvent
from ..tokens import count_request_tokens
from .blocks import Event


@dataclass(slots=True)
class UpstreamRequest:
    url: str
    headers: dict[str, str]
    body: bytes
    stream: bool = False


@dataclass(slots=True)
class RequestContext:
    """What a provider needs to know about the client's request besides its body."""

    client_model: str
    upstream_model: str
    request_id: str
    # Client headers a provider may forward (already filtered to an allow-list).
    forward_headers: Mapping[str, str] = field(default_factory=dict)
    # The body exactly as the client sent it (OpenAI maps shortened tool names back from it).
    client_body: bytes = b""
    # The same request, parsed once (OpenAI counts its input tokens for message_start).
    client_request: ClientRequest | None = None


class StreamTranslator(ABC):
    """Sans-IO: upstream events in, Anthropic events out.

    A pass-through translator sets `relays_raw`: the gateway then relays upstream's bytes
    unchanged, and `feed` only returns the events worth observing (usage, errors).
    """

    relays_raw: bool = False

    @abstractmethod
    def feed_payload(self, payload: Any) -> list[Event]:
        """One decoded upstream JSON object (a stream chunk, or the whole non-stream body)."""

    @abstractmethod
    def finish(self) -> list[Event]:
        """Upstream ended. Close the message, or raise if it ended before it should have."""

    def feed(self, event: SSEEvent) -> list[Event]:
        try:
            payload = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise UpstreamError(
                f"upstream sent a stream event that is not JSON: {event.data[:200]!r}"
            ) from None
        return self.feed_payload(payload)

    def relay_frames(self, frames: bytes) -> bytes:
        """Pass-through only: whole upstream SSE events about to go to the client."""
        return frames

    def relay_body(self, body: bytes) -> tuple[bytes, dict[str, Any]]:
        """Pass-through only: the non-streaming body as the client gets it, and its usage."""
        raise NotImplementedError(f"{type(self).__name__} does not relay raw bodies")

    def translate_body(self, body: bytes) -> list[Event]:
        """The non-streaming path: the whole upstream body, then the end."""
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamError(f"upstream answered with invalid JSON: {body[:200]!r}") from None
        return self.feed_payload(payload) + self.finish()


class Provider(ABC):
    name: str
    #: the config setting a user fills to give this provider a key
    key_setting: str

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    @abstractmethod
    def build_request(
        self, request: ClientRequest, context: RequestContext, api_key: str
    ) -> UpstreamRequest:
        """The upstream call. A translating provider reads `request.messages()`; one that
        relays forwards `request.body`."""

    @abstractmethod
    def new_translator(self, context: RequestContext) -> StreamTranslator: ...

    def build_count_tokens_request(
        self, request: ClientRequest, context: RequestContext, api_key: str
    ) -> UpstreamRequest | None:
        """The upstream counting call, or None to count locally (`count_tokens_locally`)."""
        return None

    def parse_count_tokens(self, body: bytes) -> int:
        raise NotImplementedError(f"{self.name} has no counting API")

    def count_tokens_locally(self, request: ClientRequest, context: RequestContext) -> int:
        """Default for providers without a counting API: OpenAI's tokenizer (tokens.py)."""
        return count_request_tokens(request.count_tokens(), context.upstream_model)

    def error_from_response(
        self, status: int, headers: Mapping[str, str], body: bytes
    ) -> GatewayError:
        """Default: pull a message out of a JSON error body, fall back to the raw text."""
        return from_upstream_status(
            status,
            f"{self.name} upstream error {status}: {_error_message(body)}",
            headers.get("retry-after"),
        )


def _error_message(body: bytes) -> str:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:300].decode("utf-8", errors="replace").strip() or "(empty body)"
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return body[:300].decode("utf-8", errors="replace")
