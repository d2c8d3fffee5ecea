"""What OpenAI models accept: output-token ceilings, which models reason, and how much.

Looked up by the longest matching name prefix, so dated snapshots (`gpt-4o-2024-08-06`) and
sizes (`gpt-4.1-mini`) inherit their family's entry. Unknown models get no cap: OpenAI's own
400 is clearer than a guess of ours.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Largest `max_completion_tokens` each family takes. Clients ask for more than some models
# allow (Claude Code sends 32000), and OpenAI answers that with a 400 instead of clamping.
MAX_OUTPUT_TOKENS: dict[str, int] = {
    "gpt-3.5-turbo": 4096,
    "gpt-4": 8192,
    "gpt-4-turbo": 4096,
    "gpt-4o": 16384,
    "chatgpt-4o": 16384,
    "gpt-4.1": 32768,
    "gpt-4.5": 16384,
    "o1": 100000,
    "o1-mini": 65536,
    "o1-preview": 32768,
    "o3": 100000,
    "o4": 100000,
    "gpt-5": 128000,
    "gpt-5-chat": 16384,
}

# Reasoning models take `reasoning_effort` and reject non-default temperature/top_p and `stop`.
REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")

# The `reasoning_effort` values each reasoning family takes, lowest first. OpenAI answers 400
# to any other ("Unsupported value: 'minimal' is not supported with the 'gpt-5.1' model").
# "none" (no reasoning at all) starts with gpt-5.1, "minimal" exists only on gpt-5, "xhigh"
# after gpt-5.1-codex-max, "max" with gpt-5.6; o1-mini and o1-preview take no effort at all.
_O_SERIES = ("low", "medium", "high")
_GPT_5_2 = ("none", "low", "medium", "high", "xhigh")
REASONING_EFFORTS: dict[str, tuple[str, ...]] = {
    "o1": _O_SERIES,
    "o1-mini": (),
    "o1-preview": (),
    "o3": _O_SERIES,
    "o4": _O_SERIES,
    "gpt-5": ("minimal", "low", "medium", "high"),
    "gpt-5-pro": ("high",),
    "gpt-5.1": ("none", "low", "medium", "high"),
    "gpt-5.1-codex-max": ("none", "low", "medium", "high", "xhigh"),
    "gpt-5.2": _GPT_5_2,
    "gpt-5.2-pro": ("medium", "high", "xhigh"),
    "gpt-5.3": _GPT_5_2,
    "gpt-5.4": _GPT_5_2,
    "gpt-5.5": _GPT_5_2,
    "gpt-5.6": ("none", "low", "medium", "high", "xhigh", "max"),
}
# A gpt-5.x newer than the table takes what the newest entry takes, not gpt-5's "minimal".
_NEWEST_GPT_5 = "gpt-5.6"
_GPT_5_MINOR = re.compile(r"gpt-5\.(\d+)")
# Chat-tuned gpt-5 snapshots (`gpt-5-chat-latest`, `gpt-5.1-chat-latest`) do not reason.
NON_REASONING_MARKERS = ("-chat",)


def max_output_tokens(model: str) -> int | None:
    best = _longest_prefix(_base_name(model), MAX_OUTPUT_TOKENS)
    return MAX_OUTPUT_TOKENS[best] if best is not None else None


def reasoning_efforts(model: str) -> tuple[str, ...]:
    """The effort values `model` takes, lowest first; empty for a model that takes none."""
    if not is_reasoning_model(model):
        return ()
    name = _base_name(model)
    newer = _GPT_5_MINOR.match(name)
    if newer and int(newer.group(1)) > int(_NEWEST_GPT_5.rpartition(".")[2]):
        name = _NEWEST_GPT_5
    best = _longest_prefix(name, REASONING_EFFORTS)
    return REASONING_EFFORTS[best] if best is not None else _O_SERIES


def is_reasoning_model(model: str) -> bool:
    name = _base_name(model)
    if any(marker in name for marker in NON_REASONING_MARKERS):
        return False
    return any(_has_prefix(name, prefix) for prefix in REASONING_PREFIXES)


def _base_name(model: str) -> str:
    # Fine-tunes are named `ft:<base model>:<org>:<suffix>:<id>`.
    return model.removeprefix("ft:").split(":", 1)[0].lower()


def _longest_prefix(name: str, table: Mapping[str, object]) -> str | None:
    best: str | None = None
    for prefix in table:
        if _has_prefix(name, prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return best


def _has_prefix(name: str, prefix: str) -> bool:
    """`gpt-4` covers `gpt-4-0613` but not `gpt-4o`; `gpt-5` covers `gpt-5.1` and `gpt-5-mini`."""
    return name.startswith(prefix) and name[len(prefix) : len(prefix) + 1] in ("", "-", ".")
