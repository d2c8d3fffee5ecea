"""What OpenAI models accept: output-token ceilings and which models reason.

Looked up by the longest matching name prefix, so dated snapshots (`gpt-4o-2024-08-06`) and
sizes (`gpt-4.1-mini`) inherit their family's entry. Unknown models get no cap: OpenAI's own
400 is clearer than a guess of ours.
"""

from __future__ import annotations

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
# Chat-tuned gpt-5 snapshots (`gpt-5-chat-latest`, `gpt-5.1-chat-latest`) do not reason.
NON_REASONING_MARKERS = ("-chat",)


def max_output_tokens(model: str) -> int | None:
    name = _base_name(model)
    best: str | None = None
    for prefix in MAX_OUTPUT_TOKENS:
        if _has_prefix(name, prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return MAX_OUTPUT_TOKENS[best] if best is not None else None


def is_reasoning_model(model: str) -> bool:
    name = _base_name(model)
    if any(marker in name for marker in NON_REASONING_MARKERS):
        return False
    return any(_has_prefix(name, prefix) for prefix in REASONING_PREFIXES)


def _base_name(model: str) -> str:
    # Fine-tunes are named `ft:<base model>:<org>:<suffix>:<id>`.
    return model.removeprefix("ft:").split(":", 1)[0].lower()


def _has_prefix(name: str, prefix: str) -> bool:
    """`gpt-4` covers `gpt-4-0613` but not `gpt-4o`; `gpt-5` covers `gpt-5.1` and `gpt-5-mini`."""
    return name.startswith(prefix) and name[len(prefix) : len(prefix) + 1] in ("", "-", ".")
