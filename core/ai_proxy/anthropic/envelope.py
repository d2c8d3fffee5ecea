"""The client's request as the gateway first sees it: decoded once, typed only when needed.

Routing needs the model and whether to stream, nothing more, so that is all the edge reads.
A translating provider asks for the typed model (`messages()`, built once per request and
shared across fallback targets); the Anthropic pass-through never does and forwards the
client's bytes, so a field or block type newer than this gateway reaches Anthropic intact.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import ValidationError

from ..errors import InvalidRequest
from .models import CountTokensRequest, MessagesRequest
from .validation import describe_validation_error


class ClientRequest:
    __slots__ = ("_counted", "_typed", "body", "model", "payload", "query", "stream")

    def __init__(self, body: bytes, payload: dict[str, Any], query: str = "") -> None:
        self.body = body
        self.payload = payload
        self.query = query
        model = payload.get("model")
        if not isinstance(model, str) or not model:
            raise InvalidRequest("model: Field required (a non-empty string)")
        stream = payload.get("stream", False)
        if not isinstance(stream, bool):
            raise InvalidRequest("stream: Input should be a valid boolean")
        self.model = model
        self.stream = stream
        self._typed: MessagesRequest | None = None
        self._counted: CountTokensRequest | None = None

    @classmethod
    def from_body(cls, body: bytes, query: str = "") -> ClientRequest:
        return cls(body, decode_json_object(body), query)

    def messages(self) -> MessagesRequest:
        """The typed request for a translating provider; a 400 naming the field if malformed."""
        if self._typed is None:
            self._typed = _validate(MessagesRequest, self.payload)
        return self._typed

    def count_tokens(self) -> CountTokensRequest:
        if self._counted is None:
            self._counted = _validate(CountTokensRequest, self.payload)
        return self._counted


def decode_json_object(body: bytes) -> dict[str, Any]:
    """A client body as a JSON object, or the 400 that says why it is not one."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("request body must be a JSON object")
    return payload


Typed = TypeVar("Typed", MessagesRequest, CountTokensRequest)


def _validate(model: type[Typed], payload: dict[str, Any]) -> Typed:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise InvalidRequest(describe_validation_error(exc)) from None
