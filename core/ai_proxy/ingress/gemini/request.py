"""A Gemini GenerateContentRequest body -> the Anthropic Messages request payload.

Every field of v1beta's GenerateContentRequest and GenerationConfig is handled by name:
translated, dropped (`DROPPED_FIELDS`, each advisory: it cannot change what the answer says),
accepted only at its neutral value (`NEUTRAL_ONLY`), or refused (`REFUSED_FIELDS`). A field
the real API does not have is refused too. The model and whether to stream come from the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import InvalidRequest
from ..openai_chat.shapes import as_bool, as_int, as_list, as_number, as_str
from ..reasoning import DEFAULT_MAX_TOKENS, THINKING_BUDGETS, apply_budget
from .contents import to_anthropic_messages, to_anthropic_system
from .shapes import as_fields, check_keys
from .tools import as_json_schema, to_anthropic_tools, to_json_schema

DROPPED_FIELDS = {
    "model": "the path names the model",
    "safetySettings": "Gemini's filter thresholds; every upstream applies its own policy",
    "generationConfig.seed": "best-effort determinism at Gemini; Anthropic has no seed",
    "generationConfig.mediaResolution": "the token spend on images, not what is read",
    "generationConfig.enableEnhancedCivicAnswers": "a Gemini answer style for elections",
    "generationConfig.topK": "with thinking only: Anthropic refuses top_k while thinking",
    "toolConfig.retrievalConfig": "a location for Google Maps, which is refused",
}
NEUTRAL_ONLY: dict[str, tuple[Any, str]] = {
    "candidateCount": (1, "Anthropic answers with one candidate"),
    "presencePenalty": (0, "Anthropic has no presence penalty"),
    "frequencyPenalty": (0, "Anthropic has no frequency penalty"),
    "responseLogprobs": (False, "Anthropic returns no log probabilities"),
    "logprobs": (0, "Anthropic returns no log probabilities"),
}
REFUSED_FIELDS = {
    "cachedContent": "a Gemini context cache holds content only Gemini can read",
    "generationConfig.speechConfig": "audio output cannot be carried",
    "generationConfig.imageConfig": "image output cannot be carried",
}
_TOP_LEVEL = frozenset(
    {
        "model",
        "contents",
        "systemInstruction",
        "tools",
        "toolConfig",
        "safetySettings",
        "generationConfig",
        "cachedContent",
    }
)
_GENERATION = frozenset(
    {
        "stopSequences",
        "maxOutputTokens",
        "temperature",
        "topP",
        "topK",
        "seed",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "responseModalities",
        "thinkingConfig",
        "mediaResolution",
        "enableEnhancedCivicAnswers",
        "speechConfig",
        "imageConfig",
        *NEUTRAL_ONLY,
    }
)
# thinkingLevel (Gemini 3) -> the effort whose budget it stands for; MINIMAL is off.
THINKING_LEVELS = {"LOW": "low", "MEDIUM": "medium", "HIGH": "high"}
# thinkingBudget -1: the model decides how long to think; the budget is then its ceiling.
DYNAMIC_EFFORT = "high"


@dataclass(frozen=True, slots=True)
class GeminiRequest:
    """The Anthropic payload, and what answering in kind needs from the client's request."""

    messages_request: dict[str, Any]
    include_thoughts: bool  # thinkingConfig.includeThoughts: thought parts in the answer


def to_messages_request(payload: dict[str, Any], model: str, *, stream: bool) -> GeminiRequest:
    payload = as_fields(payload, "body")
    check_keys(payload, _TOP_LEVEL, "body")
    if payload.get("cachedContent") is not None:
        raise InvalidRequest(f"cachedContent: {REFUSED_FIELDS['cachedContent']}")
    request: dict[str, Any] = {
        "model": model,
        "messages": to_anthropic_messages(payload.get("contents")),
        "stream": stream,
    }
    if (system := to_anthropic_system(payload.get("systemInstruction"))) is not None:
        request["system"] = system
    request.update(to_anthropic_tools(payload))
    if payload.get("safetySettings") is not None:
        as_list(payload["safetySettings"], "safetySettings")
    config = as_fields(payload.get("generationConfig") or {}, "generationConfig")
    include_thoughts = _generation(config, request)
    return GeminiRequest(request, include_thoughts)


def _generation(config: dict[str, Any], request: dict[str, Any]) -> bool:
    """Apply generationConfig to `request`; whether the client asked to see thoughts."""
    check_keys(config, _GENERATION, "generationConfig")
    _refuse_unsupported(config)
    client_max = None
    if config.get("maxOutputTokens") is not None:
        client_max = as_int(config["maxOutputTokens"], "generationConfig.maxOutputTokens")
        if client_max < 1:
            raise InvalidRequest("generationConfig.maxOutputTokens: must be at least 1")
    request["max_tokens"] = client_max or DEFAULT_MAX_TOKENS
    for field, name in (("temperature", "temperature"), ("topP", "top_p")):
        if config.get(field) is not None:
            request[name] = as_number(config[field], f"generationConfig.{field}")
    if config.get("stopSequences") is not None:
        stops = as_list(config["stopSequences"], "generationConfig.stopSequences")
        request["stop_sequences"] = [
            as_str(stop, f"generationConfig.stopSequences[{index}]")
            for index, stop in enumerate(stops)
        ]
    if (output := _output_config(config)) is not None:
        request["output_config"] = output
    thinking = config.get("thinkingConfig")
    include_thoughts = _thinking(thinking, request, client_max)
    if config.get("topK") is not None:
        top_k = as_int(config["topK"], "generationConfig.topK")
        if request.get("thinking", {}).get("type") != "enabled":
            request["top_k"] = top_k
    return include_thoughts


def _refuse_unsupported(config: dict[str, Any]) -> None:
    for field, why in REFUSED_FIELDS.items():
        name = field.removeprefix("generationConfig.")
        if name != field and config.get(name) is not None:
            raise InvalidRequest(f"{field}: {why}")
    for field, (neutral, why) in NEUTRAL_ONLY.items():
        value = config.get(field)
        if value is not None and value != neutral:
            raise InvalidRequest(f"generationConfig.{field}: only {neutral!r} is supported ({why})")
    modalities = config.get("responseModalities")
    if modalities is not None and [
        str(m).upper() for m in as_list(modalities, "generationConfig.responseModalities")
    ] not in ([], ["TEXT"]):
        raise InvalidRequest(
            "generationConfig.responseModalities: only ['TEXT'] is supported (no image or "
            "audio output)"
        )


def _output_config(config: dict[str, Any]) -> dict[str, Any] | None:
    mime = config.get("responseMimeType")
    if mime is None or as_str(mime, "generationConfig.responseMimeType") == "text/plain":
        return None
    if mime != "application/json":
        raise InvalidRequest(
            f"generationConfig.responseMimeType: {mime!r} has no Anthropic equivalent "
            "(text/plain and application/json with a schema do)"
        )
    if config.get("responseJsonSchema") is not None:
        schema = as_json_schema(config["responseJsonSchema"], "generationConfig.responseJsonSchema")
    elif config.get("responseSchema") is not None:
        schema = to_json_schema(config["responseSchema"], "generationConfig.responseSchema")
    else:
        raise InvalidRequest(
            "generationConfig.responseMimeType: application/json without a schema has no "
            "Anthropic equivalent; send responseJsonSchema"
        )
    return {"format": {"type": "json_schema", "schema": schema}}


def _thinking(value: Any, request: dict[str, Any], client_max: int | None) -> bool:
    if value is None:
        return False
    path = "generationConfig.thinkingConfig"
    thinking = as_fields(value, path)
    check_keys(thinking, frozenset({"includeThoughts", "thinkingBudget", "thinkingLevel"}), path)
    include = thinking.get("includeThoughts")
    include_thoughts = include is not None and as_bool(include, f"{path}.includeThoughts")
    budget = thinking.get("thinkingBudget")
    level = thinking.get("thinkingLevel")
    if budget is not None:
        budget = as_int(budget, f"{path}.thinkingBudget")
        if budget == 0:
            request["thinking"] = {"type": "disabled"}
            return False
        if budget < 0:
            budget = THINKING_BUDGETS[DYNAMIC_EFFORT]
    elif level is not None:
        level = as_str(level, f"{path}.thinkingLevel").upper()
        if level == "MINIMAL":
            request["thinking"] = {"type": "disabled"}
            return False
        if level not in THINKING_LEVELS:
            choices = ", ".join(["MINIMAL", *THINKING_LEVELS])
            raise InvalidRequest(f"{path}.thinkingLevel: expected one of {choices}, got {level!r}")
        budget = THINKING_BUDGETS[THINKING_LEVELS[level]]
    elif include_thoughts:
        budget = THINKING_BUDGETS[DYNAMIC_EFFORT]  # thinking on, at Gemini's dynamic default
    else:
        return False
    apply_budget(budget, request, client_max, field=path, limit="maxOutputTokens")
    return include_thoughts
