"""Turn a pydantic ValidationError into one line naming the offending field."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import ErrorDetails


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
        "search_result",
        "tool_reference",
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "unknown",
        "base64",
        "url",
        "file",
    }
)
