"""What each Gemini model accepts: output-token cap, thinking, structured outputs, images.

Looked up by the longest matching name prefix, so previews and dated snapshots
(`gemini-2.5-flash-preview-05-20`) and sizes (`gemini-2.5-flash-lite`) take their family's row.
A model this table has never heard of gets `DEFAULT`: a current thinking model, so a newer
Gemini works before it is listed here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# What Gemini's vision models read; anything else (GIF, BMP, SVG) is a 400 for the request.
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"})


@dataclass(frozen=True, slots=True)
class GeminiModel:
    # Gemini answers 400 to a maxOutputTokens above it instead of clamping.
    max_output_tokens: int
    thinks: bool = True
    # Pro models only work in thinking mode: thinkingBudget 0 is a 400 there.
    can_disable_thinking: bool = False
    min_budget: int = 128
    max_budget: int = 32768
    # Gemini 3 takes `thinkingLevel`; the pinned v1beta proto (google-ai-generativelanguage
    # 0.12.1) has only `thinkingBudget`, which Gemini 3 still accepts, so budgets are sent to
    # every model for now. Flip request.py to levels where this is set once the proto has them.
    takes_levels: bool = False
    # Gemini 3 refuses a function call of the current tool loop that carries no signature.
    requires_call_signatures: bool = False
    # Gemini 2.x answers 400 to function declarations next to responseMimeType JSON.
    json_with_tools: bool = False
    image_types: frozenset[str] = IMAGE_TYPES

    def clamp_budget(self, budget: int) -> int:
        return max(self.min_budget, min(budget, self.max_budget))


_NO_THINKING = GeminiModel(max_output_tokens=8192, thinks=False)
_PRO = GeminiModel(max_output_tokens=65536)
_FLASH = GeminiModel(
    max_output_tokens=65536, can_disable_thinking=True, min_budget=1, max_budget=24576
)
_GEMINI_3 = GeminiModel(
    max_output_tokens=65536, takes_levels=True, requires_call_signatures=True, json_with_tools=True
)

MODELS: dict[str, GeminiModel] = {
    "gemini-3": _GEMINI_3,
    "gemini-2.5-pro": _PRO,
    "gemini-2.5-flash": _FLASH,
    "gemini-2.5-flash-lite": replace(_FLASH, min_budget=512),
    "gemini-2.5-flash-image": replace(_NO_THINKING, max_output_tokens=32768),
    "gemini-2.0": _NO_THINKING,
    "gemini-1.5": _NO_THINKING,
    "gemma": _NO_THINKING,
}
# Signatures required: the bypass value is accepted everywhere, a missing one is not on newer
# models. Budgets within both the pro and flash ranges.
DEFAULT = GeminiModel(max_output_tokens=65536, max_budget=24576, requires_call_signatures=True)


def capabilities(model: str) -> GeminiModel:
    best: str | None = None
    for prefix in MODELS:
        if _has_prefix(model, prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return MODELS[best] if best is not None else DEFAULT


def _has_prefix(name: str, prefix: str) -> bool:
    """`gemini-3` covers `gemini-3-pro-preview` and `gemini-3.1-pro`, not `gemini-30`."""
    return name.startswith(prefix) and name[len(prefix) : len(prefix) + 1] in ("", "-", ".")
