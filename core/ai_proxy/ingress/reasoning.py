"""A client format's reasoning effort or budget as an Anthropic thinking budget (every door)."""

from __future__ import annotations

from typing import Any

from ..anthropic.models import MIN_THINKING_BUDGET
from ..errors import InvalidRequest

# Anthropic requires max_tokens, OpenAI's formats do not (it means "as long as the model may").
# The config has no such setting, so this is the visible answer's default: 4096 is the output
# limit of the smallest Claude models, so it fits every model.
DEFAULT_MAX_TOKENS = 4096

# effort -> thinking budget. low..high round-trip through the OpenAI provider's budget
# thresholds (providers/openai/reasoning.py) to the same effort; xhigh and max stay within
# 32000 tokens with DEFAULT_MAX_TOKENS on top (Claude Opus 4's output limit). "none" and
# "minimal" turn thinking off.
THINKING_BUDGETS = {"low": 2048, "medium": 8192, "high": 16384, "xhigh": 24576, "max": 27904}
NO_THINKING = frozenset({"none", "minimal"})


def apply_effort(
    effort: str, request: dict[str, Any], client_max: int | None, *, field: str, limit: str
) -> None:
    """Set `request`'s thinking for `effort` (named `field` in errors); see apply_budget."""
    if effort in NO_THINKING:
        request["thinking"] = {"type": "disabled"}
        return
    budget = THINKING_BUDGETS.get(effort)
    if budget is None:
        choices = ", ".join([*sorted(NO_THINKING), *THINKING_BUDGETS])
        raise InvalidRequest(f"{field}: expected one of {choices}, got {effort!r}")
    apply_budget(budget, request, client_max, field=field, limit=limit)


def apply_budget(
    budget: int, request: dict[str, Any], client_max: int | None, *, field: str, limit: str
) -> None:
    """Think with up to `budget` tokens. The client format's output limit (`limit`) counts
    reasoning as Anthropic's max_tokens does, so a budget it cannot hold shrinks to fit; none
    is given, the limit becomes the budget plus DEFAULT_MAX_TOKENS."""
    budget = max(budget, MIN_THINKING_BUDGET)
    if client_max is None:
        request["max_tokens"] = budget + DEFAULT_MAX_TOKENS
    elif budget >= client_max:
        budget = client_max - 1
        if budget < MIN_THINKING_BUDGET:
            raise InvalidRequest(
                f"{field}: {limit} {client_max} leaves no room for thinking (at least "
                f"{MIN_THINKING_BUDGET} tokens); turn thinking off or raise it"
            )
    request["thinking"] = {"type": "enabled", "budget_tokens": budget}
