"""Turn a pydantic ValidationError into one line naming the offending field."""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..errors import InvalidRequest
from .models import CountTokensRequest, MessagesRequest

ParsedRequest = TypeVar("ParsedRequest", MessagesRequest, CountTokensRequest)


def parse_request(body: bytes, model: type[ParsedRequest]) -> ParsedRequest:
    """The client's JSON body, validated once: any problem is a 400 naming the field."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("request body must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise InvalidRequest(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    # Union branches each report an error; the deepest one is the branch the client meant.
    error = max(errors, key=lambda e: len(_field_path(e)))
    path = ".".join(_field_path(error)) or "body"
    message = error["msg"]
    if error["type"] == "union_tag_invalid":
        ctx = error.get("ctx") or {}
        message = f"unknown type '{ctx.get('tag')}' (expected one of: {ctx.get('expected_tags')})"
    return f"{path}: {message}"


def _field_path(error: ErrorDetails) -> list[str]:
    """The loc without pydantic's union labels: branch types ('str', 'list[...]') and the
    discriminator tag it inserts after a tagged item (`content.1.text.text` -> `content.1.text`)."""
    path: list[str] = []
    previous: object = None
    for part in error["loc"]:
        if isinstance(part, str) and (
            part in _BRANCH_LABELS or "[" in part or (_is_tag_position(previous) and part in _TAGS)
        ):
            previous = part
            continue
        path.append(str(part))
        previous = part
    return path


def _is_tag_position(previous: object) -> bool:
    return isinstance(previous, int) or previous in ("source", "tool_choice", "thinking")


_BRANCH_LABELS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})
_TAGS = frozenset(
    {
        "text",
        "image",
        "document",
        "thinking",
        "redacted_thinking",
        "tool_use",
        "tool_result",
        "base64",
        "url",
        "file",
    }
)
