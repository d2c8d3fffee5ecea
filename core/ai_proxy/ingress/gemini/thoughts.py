"""Anthropic thinking carried statelessly in Gemini's `thoughtSignature`, the way Gemini's own
signatures ride in Anthropic thinking blocks (providers/gemini/signatures.py), turned around.

Anthropic verifies a thinking block by its text and signature together, so the signature alone
cannot bring it back: a Gemini client shows thought parts but need not return them (gemini-cli
keeps only the signed part). So the whole block, text and signature (or a redacted block's
data), is packed into the `thoughtSignature` of the part that follows it, as Gemini signs the
part after its thoughts. The value is base64, as the SDKs expect (google-genai holds it as
bytes), and starts with a marker, so a signature we did not issue (gemini-cli's
"skip_thought_signature_validator", a real Gemini one) is recognised and left out.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

MARKER = b"ai-proxy/thinking/1:"


def to_thought_signature(blocks: list[dict[str, Any]]) -> str:
    """Anthropic thinking / redacted_thinking blocks as one thoughtSignature."""
    kept = [
        {key: block[key] for key in ("type", "thinking", "signature", "data") if key in block}
        for block in blocks
    ]
    return base64.b64encode(MARKER + orjson.dumps(kept)).decode()


def from_thought_signature(signature: Any) -> list[dict[str, Any]]:
    """The thinking blocks inside one of ours; [] for any other value."""
    if not isinstance(signature, str):
        return []
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return []
    if not raw.startswith(MARKER):
        return []
    try:
        blocks = orjson.loads(raw[len(MARKER) :])
    except orjson.JSONDecodeError:
        return []
    return [block for block in blocks if _is_thinking(block)] if isinstance(blocks, list) else []


def _is_thinking(block: Any) -> bool:
    if not isinstance(block, dict):
        return False
    if block.get("type") == "thinking":
        return isinstance(block.get("thinking"), str) and isinstance(block.get("signature"), str)
    return block.get("type") == "redacted_thinking" and isinstance(block.get("data"), str)
