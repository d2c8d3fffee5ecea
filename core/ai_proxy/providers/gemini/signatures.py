"""Gemini thought signatures carried statelessly in Anthropic thinking blocks' `signature`.

The prefix marks a signature as Gemini-issued, so that signatures from other providers (an
earlier Claude turn, say) are never sent to Gemini, and ours are never sent to Anthropic.
"""

from __future__ import annotations

PREFIX = "gemini:"


def to_our_signature(thought_signature: str) -> str:
    return PREFIX + thought_signature


def from_our_signature(signature: str) -> str | None:
    """The Gemini signature inside one of ours, or None when Gemini did not issue it."""
    if signature.startswith(PREFIX) and len(signature) > len(PREFIX):
        return signature[len(PREFIX) :]
    return None
