"""Tool-call ids OpenAI would refuse, made acceptable (a pure function, so no state is kept)."""

from __future__ import annotations

import hashlib

MAX_CALL_ID_LENGTH = 40


def to_openai_call_id(tool_use_id: str) -> str:
    """Tool-use ids from other providers or clients may exceed OpenAI's 40 characters."""
    if len(tool_use_id) <= MAX_CALL_ID_LENGTH:
        return tool_use_id
    return "call_" + hashlib.sha256(tool_use_id.encode()).hexdigest()[: MAX_CALL_ID_LENGTH - 5]
