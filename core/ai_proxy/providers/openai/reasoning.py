"""Anthropic's effort and thinking settings -> OpenAI `reasoning_effort`, per model.

`output_config.effort` names a level (low ... max); `thinking` either turns reasoning off,
leaves it to the model (adaptive), or sets a budget. Each becomes the value of OpenAI's scale
the model takes that comes closest: the requested one, else the nearest below it (`xhigh`
on o3 is `high`), else the nearest above (gpt-5-pro takes only `high`).

Chat Completions returns no reasoning text, so none of this ever makes a thinking block
appear in the answer; `thinking.display` has nothing to show or hide here.
"""

from __future__ import annotations

from ...anthropic.models import MessagesRequest
from ...errors import InvalidRequest
from .limits import reasoning_efforts

# OpenAI's whole scale, lowest first (the `ReasoningEffort` literal of the openai package).
SCALE = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
# thinking.budget_tokens below these -> "low", "medium"; anything larger -> "high".
LOW_EFFORT_BUDGET = 4096
MEDIUM_EFFORT_BUDGET = 16384


def to_reasoning_effort(request: MessagesRequest, model: str) -> str | None:
    """The `reasoning_effort` to send, or None for the model's own default."""
    accepted = reasoning_efforts(model)
    if not accepted:
        return None
    thinking = request.thinking
    if thinking is not None and thinking.type == "disabled":
        # Anthropic's "no thinking" is the least reasoning this model can do.
        return accepted[0]
    wanted = request.effort or _budget_effort(request)
    return _closest(wanted, accepted) if wanted is not None else None


def _budget_effort(request: MessagesRequest) -> str | None:
    thinking = request.thinking
    if thinking is None or thinking.type != "enabled":
        return None  # adaptive: the model's own default effort
    budget = thinking.budget_tokens
    if budget is None:
        raise InvalidRequest("thinking.enabled.budget_tokens: Field required")
    if budget < LOW_EFFORT_BUDGET:
        return "low"
    if budget < MEDIUM_EFFORT_BUDGET:
        return "medium"
    return "high"


def _closest(wanted: str, accepted: tuple[str, ...]) -> str:
    rank = SCALE.index(wanted)
    below = [value for value in accepted if SCALE.index(value) <= rank]
    return below[-1] if below else accepted[0]
