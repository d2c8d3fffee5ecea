"""The one shape check the chat ingress's helpers (..openai_chat.shapes) word for their API."""

from __future__ import annotations

from typing import Any

from ...errors import InvalidRequest


def check_keys(obj: dict[str, Any], known: frozenset[str], path: str) -> None:
    """Refuse a key the Responses API does not have: dropping it could change the answer
    unseen. A null counts as absent, as clients echo back a response's null fields."""
    for key, value in obj.items():
        if key not in known and value is not None:
            raise InvalidRequest(f"{path}.{key}: unknown field, not part of the Responses API")
