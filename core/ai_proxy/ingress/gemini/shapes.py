"""The key check worded for Gemini's API (the type checks are ..openai_chat.shapes')."""

from __future__ import annotations

from typing import Any

from ...errors import InvalidRequest
from ..openai_chat.shapes import as_object


def check_keys(obj: dict[str, Any], known: frozenset[str], path: str) -> None:
    """Refuse a key the Gemini API does not have: dropping it could change the answer unseen.
    A null counts as absent, as clients echo back a response's null fields."""
    for key, value in obj.items():
        if key not in known and value is not None:
            raise InvalidRequest(f"{path}.{key}: unknown field, not part of the Gemini API")


def as_fields(value: Any, path: str) -> dict[str, Any]:
    """An object of the API's own (not the client's data: never args, responses or schemas'
    properties), its keys in lowerCamelCase. Google's JSON parser takes the proto's snake_case
    names too, and clients use them: google-genai sends `thinkingConfig.include_thoughts`."""
    fields = as_object(value, path)
    return {_camel(key): item for key, item in fields.items()} if _has_snake(fields) else fields


def _has_snake(fields: dict[str, Any]) -> bool:
    return any("_" in key for key in fields)


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)
