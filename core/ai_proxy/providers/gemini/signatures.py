"""Gemini thought signatures carried statelessly in Anthropic thinking blocks' `signature`.

Ours reads `gemini:<family>:<thoughtSignature>`. The `gemini:` prefix marks a signature as
Gemini-issued, so signatures from other providers (an earlier Claude turn, say) are never sent
to Gemini, and ours are never sent to Anthropic. The family names the model that issued it
(`gemini-2.5-flash`, `gemini-3-pro`): a signature only verifies on the model family that made
it, and Gemini answers "Corrupted thought signature." to any other, so a fallback from one
Gemini model to another drops them instead. Gemini's signatures are base64, which has no `:`.

The older `gemini:<thoughtSignature>` (no family) is still recognised as ours, but since no one
knows which model issued it, it is sent to none: every Gemini model works without an old
signature (Gemini 3 gets the bypass value for the current turn instead, see request.py),
while a wrong one breaks the request.
"""

from __future__ import annotations

import re

PREFIX = "gemini:"
# Gemini's documented value for function calls it did not sign itself (a history from another
# model or provider): https://ai.google.dev/gemini-api/docs/thought-signatures
BYPASS_SIGNATURE = "skip_thought_signature_validator"
# Release stages and dates that do not change which model signs: `-preview-05-20`, `-001`.
_NOT_FAMILY = re.compile(r"(-(preview|latest|exp|experimental|\d+))+$")


def model_family(model: str) -> str:
    """`gemini-2.5-flash-preview-05-20` -> `gemini-2.5-flash`; `gemini-3-pro-preview` ->
    `gemini-3-pro`."""
    return _NOT_FAMILY.sub("", model.lower()) or model.lower()


def to_our_signature(thought_signature: str, model: str) -> str:
    return f"{PREFIX}{model_family(model)}:{thought_signature}"


def from_our_signature(signature: str, model: str) -> str | None:
    """The Gemini signature inside one of ours when `model`'s family issued it, else None."""
    if not signature.startswith(PREFIX):
        return None
    family, colon, thought_signature = signature[len(PREFIX) :].partition(":")
    if not colon or not thought_signature or family != model_family(model):
        return None
    return thought_signature
