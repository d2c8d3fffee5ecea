"""What a request naming `previous_response_id` continues from: that response's conversation.

It is kept in Anthropic's form, as the Messages path served it, so a continuation loses
nothing the stateless round trip through output items would (web search results, citations):
the earlier system and developer items, and every turn up to and including the answer. The
earlier request's `instructions` are not part of it: OpenAI does not carry them over either,
so that each request may set its own. Nor are its tools: each request declares its own.

Each kept response holds its whole conversation, not a link to the one before it, so one
read continues it, and an earlier response expiring never breaks a later one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class History:
    system: list[Block] = field(default_factory=list)  # hoisted system and developer items
    messages: list[Block] = field(default_factory=list)  # Anthropic messages, roles alternating

    def answered(self, message: dict[str, Any]) -> History:
        """This conversation with `message` (the Anthropic answer to it) as its last turn.

        An answer with no content (cut off before its first block) adds no turn: Anthropic
        refuses an empty one in the middle of a conversation."""
        content = [block for block in message.get("content") or () if isinstance(block, dict)]
        if not content:
            return self
        return History(self.system, [*self.messages, {"role": "assistant", "content": content}])
