"""Gemini's checks on a request that parsed: the 400s the model backend answers itself.

Each message is the live API's wording as quoted in public bug reports. Only checks that a
gateway can trip over are here; every one of them is a real rejection, so a request the fake
refuses is one Gemini would refuse too.
"""

from __future__ import annotations

import re
from typing import Any

VALID_ROLES = ("user", "model")
MAX_STOP_SEQUENCES = 5
FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,63}")
PART_DATA_FIELDS = (
    "text",
    "inlineData",
    "functionCall",
    "functionResponse",
    "fileData",
    "executableCode",
    "codeExecutionResult",
)

ROLE_MESSAGE = "Please use a valid role: user, model."
EMPTY_TEXT_MESSAGE = (
    "Unable to submit request because it has an empty text parameter. Add a value to the "
    "parameter and try again. Learn more: "
    "https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini"
)
RESPONSE_COUNT_MESSAGE = (
    "Please ensure that the number of function response parts is equal to the number of "
    "function call parts of the function call turn."
)
RESPONSE_ORDER_MESSAGE = (
    "Please ensure that function response turn comes immediately after a function call turn."
)
CALL_ORDER_MESSAGE = (
    "Please ensure that function call turn comes immediately after a user turn or after a "
    "function response turn."
)
BUDGET_ZERO_MESSAGE = "Budget 0 is invalid. This model only works in thinking mode."
FUNCTION_NAME_MESSAGE = (
    "Invalid function name. Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, "
    "or contain underscores, dots and dashes, with a maximum length of 64."
)


def request_problem(body: dict[str, Any], model: str, action: str) -> str | None:
    """The message of the first rule `body` breaks, or None when Gemini would take it."""
    if action == "countTokens":
        inner = _get(body, "generateContentRequest")
        request = inner if isinstance(inner, dict) else body
        prefix = "CountTokensRequest"
    else:
        request, prefix = body, "GenerateContentRequest"
    contents = _get(request, "contents") or []
    return (
        _structure_problem(contents, prefix)
        or _role_problem(contents)
        or _empty_text_problem(contents)
        or _function_turn_problem(contents)
        or _signature_problem(contents, model)
        or _generation_config_problem(_get(request, "generationConfig") or {}, model)
        or _function_name_problem(_get(request, "tools") or [], prefix)
    )


def _structure_problem(contents: list[Any], prefix: str) -> str | None:
    """Google words these as a bullet list, one `* Field.path: reason` line each."""
    if not contents:
        return f"* {prefix}.contents: contents is not specified\n"
    lines = []
    for i, content in enumerate(contents):
        parts = _get(content, "parts") or []
        if not parts:
            lines.append(f"* {prefix}.contents[{i}].parts: contents.parts must not be empty.\n")
        for j, part in enumerate(parts):
            if not any(_get(part, name) is not None for name in PART_DATA_FIELDS):
                lines.append(
                    f"* {prefix}.contents[{i}].parts[{j}].data: required oneof field 'data' "
                    "must have one initialized field\n"
                )
    return "".join(lines) or None


def _role_problem(contents: list[Any]) -> str | None:
    # A missing role is taken as "user"; a wrong one (assistant, system, tool) is refused.
    roles = (_get(c, "role") for c in contents)
    return ROLE_MESSAGE if any(r not in (None, "", *VALID_ROLES) for r in roles) else None


def _empty_text_problem(contents: list[Any]) -> str | None:
    # An empty text part that only carries a thought signature is what Gemini 3 streams
    # itself, and echoing it back is accepted.
    for content in contents:
        for part in _get(content, "parts") or []:
            if _get(part, "text") == "" and not _get(part, "thoughtSignature"):
                return EMPTY_TEXT_MESSAGE
    return None


def _function_turn_problem(contents: list[Any]) -> str | None:
    previous_calls: int | None = None  # function calls of the previous turn, if it was a model's
    previous_role: str | None = None
    for content in contents:
        role = _get(content, "role") or "user"
        parts = _get(content, "parts") or []
        calls = sum(1 for p in parts if _get(p, "functionCall") is not None)
        responses = sum(1 for p in parts if _get(p, "functionResponse") is not None)
        if calls and previous_role != "user":
            return CALL_ORDER_MESSAGE
        if responses:
            if not previous_calls:
                return RESPONSE_ORDER_MESSAGE
            if responses != previous_calls:
                return RESPONSE_COUNT_MESSAGE
        previous_calls = calls if role == "model" else None
        previous_role = role
    return None


def _signature_problem(contents: list[Any], model: str) -> str | None:
    """Gemini 3 refuses a function call of the current turn that lost its thought signature.

    The current turn starts after the last user content that is not only function responses;
    in each model step of it, the first function call carries the signature.
    """
    if not model.startswith("gemini-3"):
        return None
    start = 0
    for i, content in enumerate(contents):
        parts = _get(content, "parts") or []
        is_user = (_get(content, "role") or "user") == "user"
        if is_user and any(_get(p, "functionResponse") is None for p in parts):
            start = i
    for i in range(start, len(contents)):
        content = contents[i]
        if _get(content, "role") != "model":
            continue
        calls = [p for p in _get(content, "parts") or [] if _get(p, "functionCall") is not None]
        if calls and not _get(calls[0], "thoughtSignature"):
            name = _get(calls[0], "functionCall").get("name", "")
            return (
                "Function call is missing a thought_signature in functionCall parts. This is "
                "required for tools to work correctly, and missing thought_signature may lead "
                f"to degraded model performance. Additional data, function call "
                f"`default_api:{name}` , position {i + 1}. Please refer to "
                "https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
            )
    return None


def _generation_config_problem(config: dict[str, Any], model: str) -> str | None:
    stops = _get(config, "stopSequences") or []
    if len(stops) > MAX_STOP_SEQUENCES:
        return (
            f"Unable to submit request because it has a stopSequences value of {len(stops)} but "
            f"the supported range is from 1 (inclusive) to {MAX_STOP_SEQUENCES + 1} (exclusive). "
            "Update the value and try again."
        )
    thinking = _get(config, "thinkingConfig") or {}
    budget = _get(thinking, "thinkingBudget")
    if budget is not None and int(budget) == 0 and "pro" in model:
        return BUDGET_ZERO_MESSAGE
    return None


def _function_name_problem(tools: list[Any], prefix: str) -> str | None:
    lines = []
    for i, tool in enumerate(tools):
        for j, declaration in enumerate(_get(tool, "functionDeclarations") or []):
            if FUNCTION_NAME.fullmatch(_get(declaration, "name") or "") is None:
                lines.append(
                    f"* {prefix}.tools[{i}].function_declarations[{j}].name: "
                    f"{FUNCTION_NAME_MESSAGE}\n"
                )
    return "".join(lines) or None


def _get(obj: Any, camel: str) -> Any:
    """A field by its JSON name or its proto name: the front end takes either spelling."""
    if not isinstance(obj, dict):
        return None
    if camel in obj:
        return obj[camel]
    return obj.get(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel))
