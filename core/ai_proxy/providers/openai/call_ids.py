"""OpenAI tool-call ids <-> Anthropic tool-use ids, as pure functions (no state is kept).

Clients see OpenAI's `call_...` ids shaped like Anthropic's: `toolu_oai_` + the original, so
a history that moves on to Anthropic mid tool loop carries ids Anthropic accepts, and the
way back to OpenAI restores the id OpenAI issued. Ids from anywhere else (Anthropic's
`toolu_01...`, Gemini's, a client's own) go to OpenAI as they are, or hashed when longer
than the 40 characters OpenAI takes. Both directions are applied to a tool_use and to the
tool_result answering it alike, so the pair always matches.
"""

from __future__ import annotations

import hashlib
import re

from ..ids import new_tool_use_id

MAX_CALL_ID_LENGTH = 40
OURS = "toolu_oai_"
_ANTHROPIC_ID = re.compile(r"[A-Za-z0-9_-]+")


def to_anthropic_tool_use_id(call_id: object) -> str:
    """The id the client sees for an OpenAI tool call."""
    if isinstance(call_id, str) and _ANTHROPIC_ID.fullmatch(call_id):
        return OURS + call_id
    # Missing, or with characters Anthropic refuses (an OpenAI-compatible server's).
    return new_tool_use_id()


def to_openai_call_id(tool_use_id: str) -> str:
    original = tool_use_id.removeprefix(OURS) or tool_use_id
    if len(original) <= MAX_CALL_ID_LENGTH:
        return original
    return "call_" + hashlib.sha256(original.encode()).hexdigest()[: MAX_CALL_ID_LENGTH - 5]
