"""A Responses API request body -> the Anthropic Messages request payload.

Every field of openai's `ResponseCreateParams` is handled by name: translated, dropped
(`DROPPED_FIELDS`, each advisory), accepted only at its neutral value (`NEUTRAL_ONLY`), or
refused (`REFUSED_FIELDS`). A field the real API does not have is refused too.

`previous_response_id` continues a response kept in the fleet store: the endpoint
(ai_proxy.endpoints.ingress.ResponsesEndpoint) reads its `History` and hands it in here, and
keeps this request's conversation in turn unless it says `store: false`. A stored
conversation or prompt is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import InvalidRequest
from ..openai_chat.shapes import as_bool, as_int, as_list, as_number, as_object, as_str
from ..reasoning import DEFAULT_MAX_TOKENS, apply_effort
from .history import History
from .items import to_anthropic_messages, to_anthropic_system
from .shapes import check_keys
from .tools import ToolKinds, to_anthropic_tool_choice, to_anthropic_tools

# Fields with no effect on the answer, dropped, and why.
DROPPED_FIELDS = {
    "metadata": "tags for OpenAI's stored responses",
    "service_tier": "a capacity preference",
    "prompt_cache_key": "a cache-routing hint; Anthropic caches by content",
    "client_metadata": "Codex's session and turn ids, for OpenAI's logs",
    "prompt_cache_retention": "a cache lifetime; caching saves cost, not content",
    "prompt_cache_options": "cache policy; caching saves cost, not content",
    "stream_options": "include_obfuscation pads against a side channel ours does not have",
    "background_options": "options of background mode, which is refused",
    "access_programs": "OpenAI's safety program enrolment",
    "image": "input image compression; Anthropic sizes images itself",
    "include": "reasoning.encrypted_content is always sent; other values name hosted tools",
    "truncation": (
        "'auto' drops the oldest items past the context window; here such a request gets the "
        "prompt-too-long error instead, which says so, rather than a silently shorter history"
    ),
    "reasoning.summary": "summaries are always the thinking text",
    "reasoning.generate_summary": "the deprecated spelling of reasoning.summary",
    "reasoning.context": (
        "which earlier reasoning the model rereads; every reasoning item sent is carried, and "
        "the upstream keeps what its model uses"
    ),
    "text.verbosity": "a length preference Anthropic has no setting for",
    "text.format.name": "Anthropic takes the schema alone",
    "text.format.description": "Anthropic takes the schema alone",
    "text.format.strict": "Anthropic's structured output is always strict",
    "parallel_tool_calls": "true is Anthropic's default; false is translated",
}
NEUTRAL_ONLY: dict[str, tuple[Any, str]] = {
    "background": (False, "background mode needs server-side state this gateway does not keep"),
    "top_logprobs": (0, "Anthropic returns no log probabilities"),
}
REFUSED_FIELDS = {
    "conversation": "needs server-side state (a stored conversation) this gateway does not keep",
    "prompt": "stored prompt templates live at OpenAI; send the instructions themselves",
    "max_tool_calls": "Anthropic has no limit on hosted tool calls, and none are offered here",
    "context_management": "OpenAI's server-side compaction has no Anthropic equivalent",
    "moderation": "OpenAI's moderation of input and output has no Anthropic equivalent",
}
TRANSLATED_FIELDS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "max_output_tokens",
        "temperature",
        "top_p",
        "stream",
        "tools",
        "tool_choice",
        "reasoning",
        "text",
        "safety_identifier",
        "user",
        "previous_response_id",
        "store",
    }
)
_KNOWN = (
    TRANSLATED_FIELDS
    | NEUTRAL_ONLY.keys()
    | REFUSED_FIELDS.keys()
    | {name for name in DROPPED_FIELDS if "." not in name}
)
# Request fields the response object echoes (openai's Response type has each).
ECHOED_FIELDS = (
    "instructions",
    "max_output_tokens",
    "metadata",
    "previous_response_id",
    "prompt_cache_key",
    "safety_identifier",
    "service_tier",
    "store",
    "temperature",
    "top_p",
    "truncation",
    "user",
)


# previous_response_id where no response is kept (ai_proxy.response_store, the "none" store).
NEEDS_FLEET_STORE = (
    "previous_response_id: needs the earlier response, which is kept only in the fleet store: "
    'configure limits.store = "redis" and limits.redis_url, or send the whole conversation in '
    "`input` (Codex does, with store=false)"
)


@dataclass(frozen=True, slots=True)
class ResponsesRequest:
    messages_request: dict[str, Any]
    echo: dict[str, Any]  # the request fields the response object shows
    kinds: ToolKinds
    history: History  # the conversation as sent; the answer's continuation builds on it
    store: bool  # keep the answered conversation for a later previous_response_id


def to_messages_request(
    payload: dict[str, Any], previous: History | None = None
) -> ResponsesRequest:
    """`previous`: what `previous_response_id` names, read by the caller from the store."""
    check_keys(payload, frozenset(_KNOWN), "body")
    _refuse_unsupported(payload)
    if payload.get("previous_response_id") is not None and previous is None:
        raise InvalidRequest(NEEDS_FLEET_STORE)
    previous = previous or History()
    hoisted, messages = to_anthropic_messages(payload.get("input"), previous.messages)
    history = History([*previous.system, *hoisted], messages)
    request: dict[str, Any] = {"model": as_str(payload.get("model"), "model"), "messages": messages}
    if (system := to_anthropic_system(payload.get("instructions"), history.system)) is not None:
        request["system"] = system
    stream = payload.get("stream")
    request["stream"] = stream is not None and as_bool(stream, "stream")
    client_max = _max_output_tokens(payload.get("max_output_tokens"))
    request["max_tokens"] = client_max or DEFAULT_MAX_TOKENS
    for field in ("temperature", "top_p"):
        if payload.get(field) is not None:
            request[field] = as_number(payload[field], field)
    tools = to_anthropic_tools(payload.get("tools"))
    if tools.anthropic:
        request["tools"] = tools.anthropic
    choice = to_anthropic_tool_choice(
        payload.get("tool_choice"), payload.get("parallel_tool_calls"), tools
    )
    if choice is not None:
        request["tool_choice"] = choice
    reasoning = _reasoning(payload.get("reasoning"), request, client_max)
    text = _text(payload.get("text"), request)
    if (user := _user(payload)) is not None:
        request["metadata"] = {"user_id": user}
    echo = {field: payload.get(field) for field in ECHOED_FIELDS}
    parallel = payload.get("parallel_tool_calls")
    echo.update(
        tools=tools.echo,
        tool_choice=payload.get("tool_choice") or "auto",
        parallel_tool_calls=True if parallel is None else parallel,
        reasoning=reasoning,
        text=text,
    )
    store = payload.get("store")
    keep = store is None or as_bool(store, "store")  # OpenAI keeps responses by default
    return ResponsesRequest(request, echo, tools.kinds, history, keep)


def _refuse_unsupported(payload: dict[str, Any]) -> None:
    for field, why in REFUSED_FIELDS.items():
        if payload.get(field) is not None:
            raise InvalidRequest(f"{field}: {why}")
    for field, (neutral, why) in NEUTRAL_ONLY.items():
        value = payload.get(field)
        if value is not None and value != neutral:
            raise InvalidRequest(f"{field}: only {neutral!r} is supported ({why})")
    include = payload.get("include")
    if include is not None:
        for index, value in enumerate(as_list(include, "include")):
            if as_str(value, f"include[{index}]") == "message.output_text.logprobs":
                raise InvalidRequest(f"include[{index}]: Anthropic returns no log probabilities")
    truncation = payload.get("truncation")
    if truncation is not None and truncation not in ("auto", "disabled"):
        raise InvalidRequest(f"truncation: expected 'auto' or 'disabled', got {truncation!r}")


def _max_output_tokens(value: Any) -> int | None:
    if value is None:
        return None
    tokens = as_int(value, "max_output_tokens")
    if tokens < 1:
        raise InvalidRequest("max_output_tokens: must be at least 1")
    return tokens


def _reasoning(value: Any, request: dict[str, Any], client_max: int | None) -> dict[str, Any]:
    """reasoning.effort as a thinking budget (the chat ingress's table). max_output_tokens
    counts reasoning as Anthropic's max_tokens does, so a budget it cannot hold shrinks."""
    if value is None:
        return {"effort": None, "summary": None}
    reasoning = as_object(value, "reasoning")
    check_keys(
        reasoning,
        frozenset({"effort", "summary", "generate_summary", "context", "mode"}),
        "reasoning",
    )
    mode = reasoning.get("mode")
    if mode is not None and mode != "standard":
        raise InvalidRequest(
            f"reasoning.mode: only 'standard' is supported ({mode!r} is an OpenAI execution tier)"
        )
    summary = reasoning.get("summary") or reasoning.get("generate_summary")
    effort = reasoning.get("effort")
    echo = {"effort": effort, "summary": summary}
    if effort is not None:
        effort = as_str(effort, "reasoning.effort")
        apply_effort(
            effort, request, client_max, field="reasoning.effort", limit="max_output_tokens"
        )
    return echo


def _text(value: Any, request: dict[str, Any]) -> dict[str, Any]:
    if value is None:
        return {"format": {"type": "text"}}
    text = as_object(value, "text")
    check_keys(text, frozenset({"format", "verbosity"}), "text")
    if text.get("verbosity") not in (None, "low", "medium", "high"):
        raise InvalidRequest(
            f"text.verbosity: expected 'low', 'medium' or 'high', got {text['verbosity']!r}"
        )
    fmt = text.get("format")
    if fmt is None:
        return {"format": {"type": "text"}, "verbosity": text.get("verbosity")}
    fmt = as_object(fmt, "text.format")
    match fmt.get("type"):
        case "text":
            pass
        case "json_schema":
            keys = frozenset({"type", "name", "schema", "description", "strict"})
            check_keys(fmt, keys, "text.format")
            schema = as_object(fmt.get("schema"), "text.format.schema")
            request["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        case "json_object":
            raise InvalidRequest(
                "text.format: 'json_object' has no Anthropic equivalent; send a 'json_schema' "
                "format"
            )
        case other:
            raise InvalidRequest(f"text.format.type: unknown type {other!r}")
    return {"format": fmt, "verbosity": text.get("verbosity")}


def _user(payload: dict[str, Any]) -> str | None:
    for field in ("safety_identifier", "user"):
        if payload.get(field) is not None:
            return as_str(payload[field], field)
    return None
