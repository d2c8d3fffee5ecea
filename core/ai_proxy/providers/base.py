"""What every provider implements: build the upstream request, say how its answer comes back.

Providers are pure translation: no sockets, no awaits. The gateway owns all I/O, so a
provider is tested with plain values and every provider streams through the same loop
(ai_proxy.relay), which hands each chunk to the provider's `Reply`: a `TranslatingReply` over
the provider's `StreamTranslator` for most, a relaying one for the Anthropic pass-through.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from ..anthropic.accumulate import accumulate
from ..anthropic.envelope import ClientRequest
from ..config import ProviderConfig
from ..errors import GatewayError, UpstreamError
from ..observability import RequestRecord
from ..sse import SSEDecoder, SSEEvent, StreamDecoder, encode_events
from ..tokens import count_request_tokens
from .blocks import Event

if TYPE_CHECKING:
    from ..identity.base import Identity

log = logging.getLogger("ai_proxy.relay")


@dataclass(slots=True)
class UpstreamRequest:
    # Sent exactly as built, never re-quoted: a signed request's path must stay as signed.
    url: str
    headers: dict[str, str]
    body: bytes
    stream: bool = False
    # What a 200 to a streaming request must be (Bedrock streams AWS eventstream frames).
    stream_content_type: str = "text/event-stream"


@dataclass(slots=True)
class RequestContext:
    """What a provider needs to know about the client's request besides its body."""

    client_model: str
    upstream_model: str
    request_id: str
    # Client headers a provider may forward (already filtered to an allow-list).
    forward_headers: Mapping[str, str] = field(default_factory=dict)
    # The client's request: its own bytes (shortened tool names are mapped back from their
    # tool list) and its typed model, parsed once (OpenAI counts its input for message_start).
    client_request: ClientRequest | None = None

    @property
    def client_body(self) -> bytes:
        return self.client_request.body if self.client_request is not None else b""


class StreamTranslator(ABC):
    """Sans-IO: upstream events in, Anthropic events out."""

    @abstractmethod
    def feed_payload(self, payload: Any) -> list[Event]:
        """One decoded upstream JSON object (a stream chunk, or the whole non-stream body)."""

    @abstractmethod
    def finish(self) -> list[Event]:
        """Upstream ended. Close the message, or raise if it ended before it should have."""

    def feed(self, event: SSEEvent) -> list[Event]:
        return self.feed_payload(event_payload(event))

    def translate_body(self, body: bytes) -> list[Event]:
        """The non-streaming path: the whole upstream body, then the end."""
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamError(f"upstream answered with invalid JSON: {body[:200]!r}") from None
        return self.feed_payload(payload) + self.finish()


class Reply(ABC):
    """How upstream's answer becomes the client's, for one request. Sans-IO: the loop in
    ai_proxy.relay reads and writes; a reply turns bytes into bytes and notes on the request's
    record what went by (usage, the first token, an upstream error event)."""

    __slots__ = ()

    @abstractmethod
    def feed(self, chunk: bytes, events: list[SSEEvent], record: RequestRecord) -> Iterator[bytes]:
        """Frames for the client from one chunk of upstream's stream (`events`: the SSE events
        it completed). A failure raised after a frame was yielded ends the stream after it:
        content the client is owed goes out before the error."""

    @abstractmethod
    def finish(self, record: RequestRecord) -> bytes:
        """Upstream's stream ended: the last frames, or raise if it ended too soon."""

    @abstractmethod
    def body(self, body: bytes, record: RequestRecord) -> bytes:
        """The non-streaming path: upstream's whole body -> the client's JSON body."""

    def decoder(self) -> StreamDecoder:
        """How upstream's stream is cut into events: SSE, unless the provider frames its own."""
        return SSEDecoder()


class TranslatingReply(Reply):
    """Upstream events -> the provider's translator -> our SSE frames (or one Message)."""

    __slots__ = ("_translator",)

    def __init__(self, translator: StreamTranslator) -> None:
        self._translator = translator

    def feed(self, chunk: bytes, events: list[SSEEvent], record: RequestRecord) -> Iterator[bytes]:
        out: list[Event] = []
        try:
            for event in events:
                out.extend(self._translator.feed(event))
        except GatewayError:
            # An upstream error event read together with content: the content the client was
            # already owed goes out before the error frame.
            if out:
                record.observe_events(out)
                yield encode_events(out)
            raise
        if out:
            record.observe_events(out)
            yield encode_events(out)

    def finish(self, record: RequestRecord) -> bytes:
        events = self._translator.finish()
        record.observe_events(events)
        return encode_events(events) if events else b""

    def body(self, body: bytes, record: RequestRecord) -> bytes:
        try:
            events = self._translator.translate_body(body)
        except GatewayError:
            raise
        except Exception:
            log.exception("upstream body could not be translated")
            raise UpstreamError("upstream sent a reply we could not translate") from None
        message = accumulate(events)
        record.observe_usage(message["usage"])
        record.stop_reason = message.get("stop_reason")
        return orjson.dumps(message)


class Provider(ABC):
    name: str
    #: the config setting a user fills to give this provider a key (None: it takes none)
    key_setting: str | None
    #: the setting that turns on the platform's identity (cloud providers)
    identity_setting: str | None = None

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        # The platform's credentials, for a cloud provider enabled without a key
        # (ai_proxy.identity); requests are then built with api_key "" and signed by it.
        self.identity: Identity[Any] | None = None

    @property
    def base_url(self) -> str:
        """Where requests go (the start-up line shows its origin)."""
        return self.config.base_url

    @abstractmethod
    def build_request(
        self, request: ClientRequest, context: RequestContext, api_key: str
    ) -> UpstreamRequest:
        """The upstream call. A translating provider reads `request.messages()`; one that
        relays forwards `request.body`."""

    @abstractmethod
    def new_reply(self, context: RequestContext) -> Reply:
        """How this request's answer comes back to the client."""

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

    @abstractmethod
    def error_from_response(
        self, status: int, headers: Mapping[str, str], body: bytes
    ) -> GatewayError:
        """An upstream error answer, in the provider's own error format, as our error."""


class TranslatingProvider(Provider):
    """A provider whose wire format is not Anthropic's: its translator makes our events."""

    @abstractmethod
    def new_translator(self, context: RequestContext) -> StreamTranslator: ...

    def new_reply(self, context: RequestContext) -> Reply:
        return TranslatingReply(self.new_translator(context))


def event_payload(event: SSEEvent) -> Any:
    """An upstream stream event's JSON data; anything else is a reply we cannot use."""
    try:
        return orjson.loads(event.data)
    except orjson.JSONDecodeError:
        raise UpstreamError(
            f"upstream sent a stream event that is not JSON: {event.data[:200]!r}"
        ) from None
