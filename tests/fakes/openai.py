"""A fake OpenAI Chat Completions server: real HTTP on 127.0.0.1, scripted answers.

It speaks the wire format of `POST /v1/chat/completions`: a ChatCompletion JSON body, or with
`stream: true` SSE lines `data: {chunk}\\n\\n`, a last chunk with `choices: []` carrying usage
(when `stream_options.include_usage` asks for it), then `data: [DONE]`. Every body it sends
is checked against the openai package's response models, so the fake cannot drift from the
real shapes.

Every request body is validated against the openai package's published request TypedDicts
(`CompletionCreateParamsStreaming` / `NonStreaming`) with unknown keys forbidden at every
depth, plus the rules OpenAI enforces beyond the schema (tool messages answer the preceding
tool_calls, 40-character call ids, function-name pattern, reasoning-model parameters,
per-model output ceilings). A violation is a 400 with OpenAI's error body naming the field,
and is also kept in `rejections` so a test can assert that none happened.

    fake = FakeOpenAI()
    with fake.serve() as base_url:           # base_url ends in /v1, as the SDK takes it
        fake.enqueue(Answer(content=["Hel", "lo"]))
        ...
        assert fake.requests[0].body["model"] == "gpt-4o"
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)
from pydantic import TypeAdapter
from pydantic_core import SchemaValidator, ValidationError

from .server import BackgroundServer

API_KEY = "test-openai-key"
FINGERPRINT = "fp_f9f4fb6dbf"
_ids = itertools.count(1)


# --- what the fake answers -------------------------------------------------------------------


@dataclass
class ToolCall:
    name: str
    arguments: list[str]  # the fragments as they stream; joined in a non-streamed answer
    id: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or f"call_{next(_ids):024d}"


@dataclass
class Answer:
    """One assistant answer, rendered as JSON or as a stream depending on the request.

    `content`, `refusal` and each call's `arguments` are lists of the pieces that stream one
    chunk each. `deltas` replaces the derived stream (e.g. to interleave parallel calls).
    `cut_after` drops the connection after that many chunks; `delay` is slept before each.
    """

    content: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    finish_reason: str = "stop"
    prompt_tokens: int = 12
    completion_tokens: int = 7
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    deltas: list[dict[str, Any]] | None = None
    delay: float = 0.0
    cut_after: int | None = None
    cut_mid_line: bool = False
    send_done: bool = True


@dataclass
class ErrorReply:
    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def rate_limited(retry_after: str | None = "7", **headers: str) -> ErrorReply:
    all_headers = {"retry-after": retry_after} if retry_after else {}
    all_headers.update({name.replace("_", "-"): value for name, value in headers.items()})
    return ErrorReply(
        429,
        "Rate limit reached for gpt-4o in organization org-test on tokens per min (TPM): "
        "Limit 30000, Used 29000, Requested 2000. Please try again in 2s.",
        type="tokens",
        code="rate_limit_exceeded",
        headers=all_headers,
    )


def insufficient_quota() -> ErrorReply:
    return ErrorReply(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        type="insufficient_quota",
        code="insufficient_quota",
    )


def server_error(status: int = 500) -> ErrorReply:
    if status == 503:
        return ErrorReply(
            503, "The engine is currently overloaded, please try again later", type="server_error"
        )
    return ErrorReply(
        status, "The server had an error while processing your request.", type="server_error"
    )


@dataclass
class Recorded:
    headers: dict[str, str]
    body: dict[str, Any]


# --- request validation ----------------------------------------------------------------------


def _forbid_extra(schema: Any) -> Any:
    """A copy of a pydantic core schema that rejects unknown keys in every TypedDict.

    TypedDicts from another package cannot carry `extra="forbid"` config, and TypeAdapter
    refuses a config for them, so the rule goes into the core schema. `Iterable[...]` fields
    become lists: pydantic validates iterables lazily, which would check nothing here.
    """
    if isinstance(schema, list):
        return [_forbid_extra(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _forbid_extra(value) for key, value in schema.items()}
    if result.get("type") == "typed-dict":
        result["extra_behavior"] = "forbid"
    elif result.get("type") == "generator":
        result = {"type": "list", "items_schema": result.get("items_schema", {"type": "any"})}
    return result


def _strict_validator(typed_dict: Any) -> SchemaValidator:
    return SchemaValidator(_forbid_extra(copy.deepcopy(TypeAdapter(typed_dict).core_schema)))


STREAMING = _strict_validator(CompletionCreateParamsStreaming)
NON_STREAMING = _strict_validator(CompletionCreateParamsNonStreaming)

_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
MAX_CALL_ID = 40
# The fake's own knowledge of output ceilings (not the gateway's table, so it can disagree).
MODEL_MAX_OUTPUT = {
    "gpt-4o": 16384,
    "gpt-4o-mini": 16384,
    "gpt-4.1": 32768,
    "o3": 100000,
    "o4-mini": 100000,
    "gpt-5": 128000,
}
REASONING = re.compile(r"^(o\d|gpt-5)(?!.*-chat)")
# The fake's own knowledge of which reasoning_effort values each model takes (OpenAI answers
# any other with "Unsupported value"): "minimal" only on gpt-5, "none" from gpt-5.1 on,
# "xhigh" from gpt-5.2, "max" from gpt-5.6.
MODEL_EFFORTS = {
    "o1": ("low", "medium", "high"),
    "o3": ("low", "medium", "high"),
    "o4-mini": ("low", "medium", "high"),
    "gpt-5": ("minimal", "low", "medium", "high"),
    "gpt-5-mini": ("minimal", "low", "medium", "high"),
    "gpt-5.1": ("none", "low", "medium", "high"),
    "gpt-5.2": ("none", "low", "medium", "high", "xhigh"),
    "gpt-5.6": ("none", "low", "medium", "high", "xhigh", "max"),
}
# Strict structured outputs refuse these keywords outright.
STRICT_REFUSED = ("allOf", "oneOf", "not", "if", "then", "else", "patternProperties")


class Rejected(Exception):
    def __init__(self, message: str, param: str | None, code: str | None) -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


def validate_request(body: Any) -> None:
    """Raise Rejected, worded like OpenAI, for what the real API would answer 400 to."""
    if not isinstance(body, dict):
        raise Rejected("The request body must be a JSON object.", None, None)
    validator = STREAMING if body.get("stream") is True else NON_STREAMING
    try:
        validator.validate_python(body)
    except ValidationError as exc:
        raise _rejection(exc.errors()) from None
    _check_rules(body)


def _rejection(errors: list[Any]) -> Rejected:
    # Union members are tried in turn; the member whose `role`/`type` did not even match is
    # noise. What is left names the real problem.
    wrong_member = {
        tuple(error["loc"][:-1])
        for error in errors
        if error["loc"]
        and error["loc"][-1] in ("role", "type")
        and error["type"] == "literal_error"
    }
    relevant = [
        error
        for error in errors
        if not any(tuple(error["loc"][: len(prefix)]) == prefix for prefix in wrong_member)
    ] or errors
    # The deepest error is the most specific (a union's `str` member fails at the top).
    error = max(relevant, key=lambda error: len(error["loc"]))
    param = _param(error["loc"])
    if error["type"] == "extra_forbidden":
        if len(error["loc"]) == 1:
            return Rejected(f"Unrecognized request argument supplied: {param}", None, None)
        return Rejected(f"Unknown parameter: '{param}'.", param, "unknown_parameter")
    if error["type"] == "missing":
        return Rejected(
            f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
        )
    return Rejected(f"Invalid value for '{param}': {error['msg']}.", param, "invalid_value")


def _param(loc: tuple[Any, ...]) -> str:
    """('messages', 0, 'ChatCompletionUserMessageParam', 'content') -> messages[0].content"""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _FIELD.fullmatch(part) and part not in _UNION_TAGS:
            text += f".{part}" if text else part
        # else: the name of a union member, which OpenAI's paths do not show
    return text


_FIELD = re.compile(r"[a-z_]+")
_UNION_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})


def _check_rules(body: dict[str, Any]) -> None:
    model = str(body["model"])
    messages = body["messages"]
    if not messages:
        raise Rejected("[] is too short - 'messages'", "messages", "empty_array")
    if body.get("stream_options") is not None and body.get("stream") is not True:
        raise Rejected(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
            "invalid_value",
        )
    for field_name in ("tool_choice", "parallel_tool_calls"):
        if field_name in body and not body.get("tools"):
            raise Rejected(
                f"Invalid value for '{field_name}': '{field_name}' is only allowed "
                "when 'tools' are specified.",
                field_name,
                None,
            )
    for position, tool in enumerate(body.get("tools") or ()):
        name = tool["function"]["name"]
        if not _FUNCTION_NAME.fullmatch(name):
            param = f"tools[{position}].function.name"
            raise Rejected(
                f"Invalid '{param}': string does not match pattern. Expected a string "
                "that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                param,
                "invalid_value",
            )
    stop = body.get("stop")
    if isinstance(stop, list) and len(stop) > 4:
        raise Rejected(
            f"Invalid 'stop': array too long. Expected an array with maximum length 4,"
            f" but got an array with length {len(stop)} instead.",
            "stop",
            "array_above_max_length",
        )
    reasoning = bool(REASONING.match(model))
    unsupported = (
        ("temperature", "top_p", "stop", "max_tokens") if reasoning else ("reasoning_effort",)
    )
    for name in unsupported:
        if body.get(name) is not None:
            raise Rejected(
                f"Unsupported parameter: '{name}' is not supported with this model.",
                name,
                "unsupported_parameter",
            )
    ceiling = next(
        (
            v
            for k, v in sorted(MODEL_MAX_OUTPUT.items(), key=lambda kv: -len(kv[0]))
            if model == k or model.startswith(k + "-")
        ),
        None,
    )
    effort = body.get("reasoning_effort")
    takes = _for_model(MODEL_EFFORTS, model)
    if reasoning and effort is not None and takes is not None and effort not in takes:
        listed = ", ".join(f"'{value}'" for value in takes[:-1]) + f", and '{takes[-1]}'"
        raise Rejected(
            f"Unsupported value: '{effort}' is not supported with the '{model}' model. "
            f"Supported values are: {listed}.",
            "reasoning_effort",
            "unsupported_value",
        )
    _check_strict_schemas(body)
    asked = body.get("max_completion_tokens")
    if ceiling is not None and isinstance(asked, int) and asked > ceiling:
        raise Rejected(
            f"max_tokens is too large: {asked}. This model supports at most {ceiling} "
            f"completion tokens, whereas you provided {asked}.",
            "max_tokens",
            "invalid_value",
        )
    _check_tool_messages(messages)


def _for_model(table: dict[str, Any], model: str) -> Any:
    """The entry of the longest name that is the model or a prefix of it (`o3` for o3-pro)."""
    for name in sorted(table, key=len, reverse=True):
        if model == name or model.startswith(name + "-"):
            return table[name]
    return None


def _check_strict_schemas(body: dict[str, Any]) -> None:
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        json_schema = response_format["json_schema"]
        name = json_schema["name"]
        if not _FUNCTION_NAME.fullmatch(name):
            raise Rejected(
                "Invalid 'response_format.json_schema.name': string does not match pattern. "
                "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                "response_format.json_schema.name",
                "invalid_value",
            )
        if json_schema.get("strict"):
            problem = _strict_problem(json_schema.get("schema") or {}, root=True)
            if problem:
                raise Rejected(
                    f"Invalid schema for response_format '{name}': {problem}",
                    "response_format",
                    None,
                )
    for position, tool in enumerate(body.get("tools") or ()):
        function = tool["function"]
        if function.get("strict"):
            problem = _strict_problem(function.get("parameters") or {}, root=True)
            if problem:
                raise Rejected(
                    f"Invalid schema for function '{function['name']}': {problem}",
                    f"tools[{position}].function.parameters",
                    "invalid_function_parameters",
                )


def _strict_problem(schema: Any, root: bool = False, context: str = "()") -> str | None:
    """OpenAI's wording for the first rule of strict mode a schema breaks, or None."""
    if not isinstance(schema, dict):
        return None
    if root and schema.get("type") != "object":
        return f"In context={context}, schema must be a JSON Schema of 'type: \"object\"'."
    for keyword in STRICT_REFUSED:
        if keyword in schema:
            return f"In context={context}, '{keyword}' is not permitted."
    kind = schema.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind):
        if schema.get("additionalProperties") is not False:
            return (
                f"In context={context}, 'additionalProperties' is required to be supplied "
                "and to be false."
            )
        properties = schema.get("properties") or {}
        missing = [key for key in properties if key not in (schema.get("required") or ())]
        if missing:
            return (
                f"In context={context}, 'required' is required to be supplied and to be an "
                f"array including every key in properties. Missing '{missing[0]}'."
            )
        for key, sub in properties.items():
            problem = _strict_problem(sub, context=f"('properties', '{key}')")
            if problem:
                return problem
    subschemas = [schema.get("items"), *(schema.get("anyOf") or ())]
    subschemas += list((schema.get("$defs") or {}).values())
    for sub in subschemas:
        problem = _strict_problem(sub, context=context)
        if problem:
            return problem
    return None


def _check_tool_messages(messages: list[dict[str, Any]]) -> None:
    awaiting: list[str] = []  # ids of the last assistant tool_calls not yet answered
    for position, message in enumerate(messages):
        role = message["role"]
        if role == "tool":
            call_id = message["tool_call_id"]
            if call_id not in awaiting:
                raise Rejected(
                    "Invalid parameter: messages with role 'tool' must be a response "
                    "to a preceeding message with 'tool_calls'.",
                    f"messages.[{position}].role",
                    None,
                )
            awaiting.remove(call_id)
            continue
        if awaiting:
            raise Rejected(
                "An assistant message with 'tool_calls' must be followed by tool "
                "messages responding to each 'tool_call_id'. The following "
                f"tool_call_ids did not have response messages: {', '.join(awaiting)}",
                f"messages.[{position}].role",
                None,
            )
        for index, call in enumerate(message.get("tool_calls") or ()):
            if len(call["id"]) > MAX_CALL_ID:
                param = f"messages[{position}].tool_calls[{index}].id"
                raise Rejected(
                    f"Invalid '{param}': string too long. Expected a string with "
                    f"maximum length {MAX_CALL_ID}, but got a string with length "
                    f"{len(call['id'])} instead.",
                    param,
                    "string_above_max_length",
                )
            awaiting.append(call["id"])
    if awaiting:
        raise Rejected(
            "An assistant message with 'tool_calls' must be followed by tool messages"
            " responding to each 'tool_call_id'. The following tool_call_ids did not "
            f"have response messages: {', '.join(awaiting)}",
            "messages",
            None,
        )


# --- rendering -------------------------------------------------------------------------------


def _usage(answer: Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": answer.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": answer.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def render_completion(answer: Answer, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(answer.content) if answer.content else None,
        "refusal": "".join(answer.refusal) if answer.refusal else None,
        "annotations": [],
    }
    if answer.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": "".join(call.arguments)},
            }
            for call in answer.tool_calls
        ]
    body = {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": 1741570283,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": answer.finish_reason,
            }
        ],
        "usage": _usage(answer),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    ChatCompletion.model_validate(body)
    return body


def stream_deltas(answer: Answer) -> list[dict[str, Any]]:
    """The deltas OpenAI would stream for an answer, in its usual order."""
    if answer.deltas is not None:
        return answer.deltas
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": "", "refusal": None}]
    deltas.extend({"content": piece} for piece in answer.content)
    deltas.extend({"refusal": piece} for piece in answer.refusal)
    for index, call in enumerate(answer.tool_calls):
        deltas.append(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }
                ]
            }
        )
        deltas.extend(
            {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
            for piece in call.arguments
        )
    return deltas


def render_chunks(answer: Answer, model: str, include_usage: bool) -> list[dict[str, Any]]:
    chunk_id = f"chatcmpl-{next(_ids)}"

    def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": 1741570283,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
            "obfuscation": "x7Qd",
        }
        if include_usage:
            body["usage"] = usage
        ChatCompletionChunk.model_validate(body)
        return body

    chunks = [
        chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}], None)
        for delta in stream_deltas(answer)
    ]
    chunks.append(
        chunk(
            [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": answer.finish_reason}],
            None,
        )
    )
    if include_usage:
        chunks.append(chunk([], _usage(answer)))
    return chunks


# --- the server ------------------------------------------------------------------------------


class FakeOpenAI:
    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self.rejections: list[Rejected] = []
        self._script: deque[Answer | ErrorReply] = deque()
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.rejections.clear()
            self._script.clear()

    def enqueue(self, *replies: Answer | ErrorReply) -> None:
        with self._lock:
            self._script.extend(replies)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Yield the base URL (ending in /v1, as the OpenAI SDK takes it)."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        with BackgroundServer(app, name="fake-openai") as server:
            yield server.base_url + "/v1"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error_response(
                ErrorReply(
                    401,
                    "Incorrect API key provided. You can find your API key at "
                    "https://platform.openai.com/account/api-keys.",
                    code="invalid_api_key",
                )
            )
        raw = await request.read()
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return _error_response(
                ErrorReply(400, "We could not parse the JSON body of your request.")
            )
        with self._lock:
            self.requests.append(Recorded(dict(request.headers), body))
        try:
            validate_request(body)
        except Rejected as rejection:
            with self._lock:
                self.rejections.append(rejection)
            return _error_response(
                ErrorReply(400, rejection.message, code=rejection.code, param=rejection.param)
            )
        with self._lock:
            reply = self._script.popleft() if self._script else None
        if reply is None:
            return _error_response(
                ErrorReply(500, "fake OpenAI has no scripted answer left", type="server_error")
            )
        if isinstance(reply, ErrorReply):
            return _error_response(reply)
        model = str(body["model"])
        reply = _within_budget(reply, model, body.get("max_completion_tokens"))
        if body.get("stream") is not True:
            if reply.delay:
                await asyncio.sleep(reply.delay)
            return web.json_response(render_completion(reply, model))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return await self._stream(request, reply, render_chunks(reply, model, include_usage))

    async def _stream(
        self, request: web.Request, answer: Answer, chunks: list[dict[str, Any]]
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        for count, chunk in enumerate(chunks):
            if answer.delay:
                await asyncio.sleep(answer.delay)
            if answer.cut_after is not None and count == answer.cut_after:
                if answer.cut_mid_line:
                    await response.write(b"data: " + json.dumps(chunk).encode()[:20])
                assert request.transport is not None
                request.transport.close()
                return response
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        if answer.send_done:
            await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _within_budget(answer: Answer, model: str, budget: Any) -> Answer:
    """A reasoning model thinks first: when its reasoning alone fills max_completion_tokens
    (Claude Code's `max_tokens: 1` probe), OpenAI answers 200, finish_reason "length" and no
    content at all."""
    if not REASONING.match(model) or not isinstance(budget, int):
        return answer
    if answer.reasoning_tokens < budget:
        return answer
    return Answer(
        finish_reason="length",
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=budget,
        reasoning_tokens=budget,
        delay=answer.delay,
    )


def _error_response(reply: ErrorReply) -> web.Response:
    body = {
        "error": {
            "message": reply.message,
            "type": reply.type,
            "param": reply.param,
            "code": reply.code,
        }
    }
    return web.json_response(body, status=reply.status, headers=reply.headers)
