"""A Chat Completions request body -> the Anthropic Messages request payload.

Every field of openai's `CompletionCreateParams` is handled by name: translated, dropped
(`DROPPED_FIELDS`, each advisory: it cannot change the answer), refused when set to anything
but its neutral value (`NEUTRAL_ONLY`), or refused outright (`REFUSED_FIELDS`). A field the
real API does not have is refused too: guessing what it meant could change the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import InvalidRequest
from ..reasoning import DEFAULT_MAX_TOKENS, apply_effort
from .messages import to_anthropic_messages
from .shapes import as_bool, as_int, as_list, as_number, as_object, as_str, check_keys
from .tools import to_anthropic_tools

# Fields with no effect on the answer, dropped, and why.
DROPPED_FIELDS = {
    "metadata": "tags for OpenAI's stored completions",
    "store": "OpenAI's stored completions",
    "service_tier": "a capacity preference",
    "seed": "best-effort determinism at OpenAI; Anthropic has no seed",
    "prediction": "predicted output only speeds generation up, it does not change it",
    "prompt_cache_key": "a cache-routing hint; Anthropic caches by content",
    "prompt_cache_retention": "a cache lifetime; caching saves cost, not content",
    "prompt_cache_options": "cache breakpoint policy; caching saves cost, not content",
    "parallel_tool_calls": "true is Anthropic's default; false is translated",
    "stream_options.include_obfuscation": "padding against a side channel; ours is not needed",
    "response_format.json_schema.name": "Anthropic takes the schema alone",
    "response_format.json_schema.description": "Anthropic takes the schema alone",
    "response_format.json_schema.strict": "Anthropic's structured output is always strict",
}
# Fields accepted only at the value that asks for nothing (null, or the value listed).
NEUTRAL_ONLY: dict[str, tuple[Any, str]] = {
    "n": (1, "Anthropic answers with one choice"),
    "logprobs": (False, "Anthropic returns no log probabilities"),
    "top_logprobs": (0, "Anthropic returns no log probabilities"),
    "frequency_penalty": (0, "Anthropic has no frequency penalty"),
    "presence_penalty": (0, "Anthropic has no presence penalty"),
    "verbosity": ("medium", "Anthropic has no verbosity setting"),
}
REFUSED_FIELDS = {
    "audio": "audio output cannot be carried to Anthropic",
    "logit_bias": "Anthropic has no logit bias",
    "functions": "the deprecated function calling is not supported; use tools",
    "function_call": "the deprecated function calling is not supported; use tool_choice",
    "moderation": "OpenAI's moderation of input and output has no Anthropic equivalent",
    "web_search_options": "web search is not offered on this endpoint",
}
TRANSLATED_FIELDS = frozenset(
    {
        "messages",
        "model",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "user",
        "modalities",
    }
)
_TOP_DROPPED = frozenset(name for name in DROPPED_FIELDS if "." not in name)
_KNOWN = TRANSLATED_FIELDS | _TOP_DROPPED | NEUTRAL_ONLY.keys() | REFUSED_FIELDS.keys()


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """The Anthropic payload, and what answering in kind needs from the client's request."""

    messages_request: dict[str, Any]
    include_usage: bool  # stream_options.include_usage: a last chunk with the usage


def to_messages_request(payload: dict[str, Any]) -> ChatRequest:
    check_keys(payload, _KNOWN, "body")
    _refuse_unsupported(payload)
    system, messages = to_anthropic_messages(payload.get("messages"))
    request: dict[str, Any] = {
        "model": as_str(payload.get("model"), "model"),
        "messages": messages,
    }
    if system is not None:
        request["system"] = system
    stream = payload.get("stream")
    request["stream"] = stream is not None and as_bool(stream, "stream")
    client_max = _max_tokens(payload)
    request["max_tokens"] = client_max or DEFAULT_MAX_TOKENS
    for field in ("temperature", "top_p"):
        if payload.get(field) is not None:
            request[field] = as_number(payload[field], field)
    if (stop := _stop(payload.get("stop"))) is not None:
        request["stop_sequences"] = stop
    request.update(to_anthropic_tools(payload))
    _thinking(payload.get("reasoning_effort"), request, client_max)
    if (output := _output_config(payload.get("response_format"))) is not None:
        request["output_config"] = output
    if (user := _user(payload)) is not None:
        request["metadata"] = {"user_id": user}
    return ChatRequest(request, _include_usage(payload.get("stream_options")))


def _refuse_unsupported(payload: dict[str, Any]) -> None:
    for field, why in REFUSED_FIELDS.items():
        if payload.get(field) is not None:
            raise InvalidRequest(f"{field}: {why}")
    for field, (neutral, why) in NEUTRAL_ONLY.items():
        value = payload.get(field)
        if value is not None and value != neutral:
            raise InvalidRequest(f"{field}: only {neutral!r} is supported ({why})")
    modalities = payload.get("modalities")
    if modalities is not None and as_list(modalities, "modalities") != ["text"]:
        raise InvalidRequest("modalities: only ['text'] is supported (no audio output)")


def _max_tokens(payload: dict[str, Any]) -> int | None:
    # max_tokens is the deprecated spelling; when both are sent, the current one wins.
    for field in ("max_completion_tokens", "max_tokens"):
        if payload.get(field) is not None:
            value = as_int(payload[field], field)
            if value < 1:
                raise InvalidRequest(f"{field}: must be at least 1")
            return value
    return None


def _stop(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [as_str(item, f"stop[{index}]") for index, item in enumerate(as_list(value, "stop"))]


def _thinking(effort: Any, request: dict[str, Any], client_max: int | None) -> None:
    if effort is not None:
        effort = as_str(effort, "reasoning_effort")
        apply_effort(
            effort, request, client_max, field="reasoning_effort", limit="max_completion_tokens"
        )


def _output_config(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    response_format = as_object(value, "response_format")
    match response_format.get("type"):
        case "text":
            return None
        case "json_schema":
            json_schema = as_object(
                response_format.get("json_schema"), "response_format.json_schema"
            )
            check_keys(
                json_schema,
                frozenset({"name", "description", "schema", "strict"}),
                "response_format.json_schema",
            )
            schema = as_object(json_schema.get("schema"), "response_format.json_schema.schema")
            return {"format": {"type": "json_schema", "schema": schema}}
        case "json_object":
            raise InvalidRequest(
                "response_format: 'json_object' has no Anthropic equivalent; send a "
                "'json_schema' response format"
            )
        case other:
            raise InvalidRequest(f"response_format.type: unknown type {other!r}")


def _user(payload: dict[str, Any]) -> str | None:
    # safety_identifier replaced `user`; both name the end user Anthropic's user_id stands for.
    for field in ("safety_identifier", "user"):
        if payload.get(field) is not None:
            return as_str(payload[field], field)
    return None


def _include_usage(value: Any) -> bool:
    if value is None:
        return False
    options = as_object(value, "stream_options")
    check_keys(options, frozenset({"include_usage", "include_obfuscation"}), "stream_options")
    usage = options.get("include_usage")
    return usage is not None and as_bool(usage, "stream_options.include_usage")
