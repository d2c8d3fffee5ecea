"""What every client format other than Anthropic's own implements to enter the gateway.

The Anthropic Messages model stays the one internal model (docs/ARCHITECTURE.md). An ingress
translates its client's request onto it once, lets the Messages path serve it (keys, limits,
routing, fallbacks, retries, every upstream translation, logs and metrics, all unchanged),
then translates the answer back: a whole message, a stream of Anthropic events, or an error.
Each piece is sans-IO: dicts in, bytes out; the one loop that drives a stream is
ai_proxy.endpoints.ingress.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import GatewayError


@dataclass(frozen=True, slots=True)
class IngressCall:
    """What the translated answer needs to know about the call besides the answer itself."""

    client_model: str  # the model the client asked for, echoed in the answer
    request_id: str  # the gateway's request id; answers derive their own ids from it
    created: int  # unix seconds when the request arrived (`created` / `created_at` fields)


class IngressStream(ABC):
    """One streamed answer: Anthropic stream events in, this format's frames out.

    Fed every event the Messages path produces, in order, each as its decoded JSON payload:
    message_start, content_block_start/delta/stop, message_delta, message_stop, `ping` (sent
    while upstream is silent; answer with an SSE comment such as b": ping\\n\\n" so that the
    client's proxies keep the connection), and `error` (a failure after the 200 went out: the
    stream's last event). Returns the frames to send now, b"" when there are none."""

    @abstractmethod
    def feed(self, event: dict[str, Any]) -> bytes: ...

    @abstractmethod
    def finish(self) -> bytes:
        """Frames after the last event (a closing `[DONE]`, say); b"" when none."""


class Conversation(ABC):
    """One client request, translated: the Anthropic request, and how to answer in kind."""

    # The Anthropic Messages request payload to serve (it carries `model` and `stream`).
    messages_request: dict[str, Any]
    # What a streamed answer is sent as (Gemini's default stream is a JSON array).
    stream_content_type: bytes = b"text/event-stream; charset=utf-8"

    @abstractmethod
    def answer(self, message: dict[str, Any]) -> bytes:
        """A non-streamed Anthropic message (the Messages API's JSON answer) in this format."""

    @abstractmethod
    def stream(self) -> IngressStream: ...


class Ingress(ABC):
    """One client format: its requests parsed and translated, its errors rendered."""

    # The route table's name for it (ai_proxy.routes.Route.dialect).
    name: ClassVar[str]

    @abstractmethod
    def conversation(
        self,
        payload: dict[str, Any],
        call: IngressCall,
        *,
        stream: bool | None = None,
        sse: bool = True,
    ) -> Conversation:
        """The client's decoded JSON body as a Conversation; InvalidRequest (a 400 naming the
        field) for what is malformed or cannot be carried. `stream` is given when the path,
        not the body, says whether to stream (Gemini's :generateContent and
        :streamGenerateContent); `call.client_model` then comes from the path too, and `sse`
        is False when the query asks for Gemini's JSON-array stream instead of SSE."""

    @abstractmethod
    def error(self, error: GatewayError) -> tuple[int, bytes]:
        """The status and body this format's clients expect for `error` (before any 200)."""
