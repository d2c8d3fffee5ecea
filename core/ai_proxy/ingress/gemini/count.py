"""Gemini countTokens -> Anthropic count_tokens, and the count back as `totalTokens`.

The body holds either bare `contents` or a whole `generateContentRequest` (system, tools and
all, which count too); both are counted by the model's target like /v1/messages/count_tokens.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import InvalidRequest
from .request import to_messages_request
from .shapes import as_fields, check_keys

# What Anthropic's count_tokens reads; the rest of a Messages request does not count.
_COUNTED = ("model", "messages", "system", "tools", "tool_choice", "thinking")


def count_tokens_request(payload: dict[str, Any], model: str) -> dict[str, Any]:
    payload = as_fields(payload, "body")
    check_keys(payload, frozenset({"model", "contents", "generateContentRequest"}), "body")
    if payload.get("generateContentRequest") is not None:
        if payload.get("contents") is not None:
            raise InvalidRequest("body: send contents or generateContentRequest, not both")
        body = as_fields(payload["generateContentRequest"], "generateContentRequest")
    else:
        body = {"contents": payload.get("contents")}
    request = to_messages_request(body, model, stream=False).messages_request
    return {name: request[name] for name in _COUNTED if name in request}


def count_tokens_answer(input_tokens: int) -> bytes:
    return orjson.dumps({"totalTokens": input_tokens})
