"""Gemini's checks on a request that parsed: the 400s the model backend answers itself.

Each message is the live API's wording as quoted in public bug reports. Only checks that a
gateway can trip over are here; every one of them is a real rejection, so a request the fake
refuses is one Gemini would refuse too.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from .gemini_replies import fake_signature

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
# Gemini 3 takes the combination only with toolConfig.includeServerSideToolInvocations, a field
# the published v1beta proto (google-ai-generativelanguage 0.12.1) does not have.
TOOL_COMBINATION_MESSAGE = "Tool use with function calling is unsupported by the model."
BUILTIN_TOOLS = ("googleSearch", "urlContext", "codeExecution", "googleSearchRetrieval")
CORRUPTED_SIGNATURE_MESSAGE = "Corrupted thought signature."
# Google documents these for function calls that Gemini did not sign itself.
BYPASS_SIGNATURES = frozenset(
    {"skip_thought_signature_validator", "context_engineering_is_the_way_to_go"}
)
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"})
TOOLS_WITH_JSON_MESSAGE = "Tool use with a response mime type: 'application/json' is unsupported"
# Not seen quoted in public reports; worded after Google's other generation_config checks.
SCHEMA_WITHOUT_JSON_MESSAGE = (
    "Unable to submit request because responseJsonSchema requires responseMimeType to be "
    "application/json. Update the responseMimeType and try again."
)
_FAKE_SIGNATURE_PREFIX = b"fake-thought-signature:"
_RELEASE_SUFFIX = re.compile(r"(-(preview|latest|exp|\d+))+$")
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
        or _image_type_problem(contents)
        or _signature_problem(contents, model)
        or _corrupted_signature_problem(contents, model)
        or _generation_config_problem(_get(request, "generationConfig") or {}, model)
        or _function_name_problem(_get(request, "tools") or [], prefix)
        or _tool_combination_problem(_get(request, "tools") or [])
        or _tools_with_json_problem(request, model)
    )


def family_signature(model: str, seed: str) -> str:
    """A fake signature bound to `model`'s family, as Gemini 3's are: another family's model
    answers "Corrupted thought signature." to it. Plain `fake_signature`s pass anywhere."""
    return fake_signature(f"{_family(model)}|{seed}")


def _family(model: str) -> str:
    return _RELEASE_SUFFIX.sub("", model)


def _image_type_problem(contents: list[Any]) -> str | None:
    for content in contents:
        for part in _get(content, "parts") or []:
            media = _get(part, "inlineData") or _get(part, "fileData") or {}
            mime = _get(media, "mimeType") or ""
            if mime.startswith("image/") and mime not in IMAGE_TYPES:
                return f"Unsupported MIME type: {mime}"
    return None


def _corrupted_signature_problem(contents: list[Any], model: str) -> str | None:
    """Gemini 3 verifies every signature: one it did not issue, or issued for another model
    family, is refused. The fake knows its own: `fake_signature`s, and the bypass values."""
    if not model.startswith("gemini-3"):
        return None
    for content in contents:
        for part in _get(content, "parts") or []:
            signature = _get(part, "thoughtSignature")
            if not signature or signature in BYPASS_SIGNATURES:
                continue
            try:
                decoded = base64.b64decode(signature, validate=True)
            except (binascii.Error, ValueError):
                return CORRUPTED_SIGNATURE_MESSAGE
            if not decoded.startswith(_FAKE_SIGNATURE_PREFIX):
                return CORRUPTED_SIGNATURE_MESSAGE
            seed = decoded[len(_FAKE_SIGNATURE_PREFIX) :].decode(errors="replace")
            family, bound, _ = seed.partition("|")
            if bound and family != _family(model):
                return CORRUPTED_SIGNATURE_MESSAGE
    return None


def _tools_with_json_problem(request: dict[str, Any], model: str) -> str | None:
    """Gemini 2.x cannot call functions and answer in JSON mode at once; Gemini 3 can."""
    config = _get(request, "generationConfig") or {}
    declares = any(_get(tool, "functionDeclarations") for tool in _get(request, "tools") or [])
    json_mode = _get(config, "responseMimeType") == "application/json"
    if declares and json_mode and not model.startswith("gemini-3"):
        return TOOLS_WITH_JSON_MESSAGE
    return None


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
    has_schema = _get(config, "responseJsonSchema") is not None or _get(config, "responseSchema")
    if has_schema and _get(config, "responseMimeType") != "application/json":
        return SCHEMA_WITHOUT_JSON_MESSAGE
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


def _tool_combination_problem(tools: list[Any]) -> str | None:
    """Built-in tools (Google Search, URL context, ...) next to function declarations."""
    functions = any(_get(tool, "functionDeclarations") for tool in tools)
    builtins = any(_get(tool, name) is not None for tool in tools for name in BUILTIN_TOOLS)
    return TOOL_COMBINATION_MESSAGE if functions and builtins else None


def _get(obj: Any, camel: str) -> Any:
    """A field by its JSON name or its proto name: the front end takes either spelling."""
    if not isinstance(obj, dict):
        return None
    if camel in obj:
        return obj[camel]
    return obj.get(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel))
