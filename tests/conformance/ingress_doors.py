"""The gateway's non-Anthropic doors, each driven by its real client SDK, for test_ingress_matrix.

A case says what to ask in door-neutral terms (`Ask`); each door turns that into its SDK's
call, and its answer (whole or streamed) back into one `Reply`, so a case is written once
and holds for Chat Completions, Responses and Gemini alike. Reading a stream also checks
that door's stream grammar (the order of events and how the stream ends).
"""

from __future__ import annotations

import base64
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, cast

import openai
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionContentPartParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageParam,
)
from openai.types.responses import (
    FunctionToolParam,
    Response,
    ResponseInputContentParam,
    ResponseInputItemParam,
    ResponseStreamEvent,
)
from openai.types.shared_params import FunctionDefinition

from .harness import Call

TOOL_NAME = "get_weather"
TOOL_DESCRIPTION = "Current weather"
# What every door asks for when a case wants reasoning, and the Anthropic budget it means:
# effort "low" is a 2048-token budget at the OpenAI doors (ingress/reasoning.py).
EFFORT: Literal["low"] = "low"
BUDGET = 2048


@dataclass(frozen=True)
class Ask:
    """One request, whatever the door: a user turn, and optionally an earlier answer and the
    outputs of the tools it called (one per call, in order)."""

    model: str
    prompt: str = "Hi"
    image: str | None = None  # base64 PNG shown before the prompt
    schema: dict[str, Any] | None = None  # declares get_weather with this input schema
    reasoning: bool = False
    answered: Reply | None = None
    results: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reply:
    """An answer as the door's client saw it. Texts and thinking are each joined in order:
    Chat Completions has one string for each, so that is what every door is compared by."""

    text: str
    thinking: str
    calls: list[Call]
    finish: str  # the door's own finish reason (Responses: the response's status)
    input_tokens: int
    output_tokens: int
    # Ids may be minted per answer.
    call_ids: list[str] = field(compare=False)
    # The kinds of output in the order they came ("text", "thinking", "tool_use"), repeats
    # folded; on a stream, the order the events arrived in. None where the door does not say.
    order: list[str] | None = field(compare=False)
    # The assistant turn as the client sends it back (from a JSON answer only: the cases
    # continue a conversation from that one).
    turn: object = field(compare=False, default=None)


@dataclass(frozen=True)
class SeenError:
    status: int
    kind: str  # OpenAI's error type; Google's status name
    retry_after: str | None
    body: str


class Door(ABC):
    """One client format at the gateway, through its SDK (retries off)."""

    name: ClassVar[str]
    # The door's answer to an error the gateway maps to this status: the SDK exception and kind.
    errors: ClassVar[dict[int, tuple[type[Exception], str]]]
    # Anthropic stop_reason -> what this door says instead.
    finishes: ClassVar[dict[str, str]]

    @abstractmethod
    def ask(self, ask: Ask, *, stream: bool) -> Reply: ...

    @abstractmethod
    def seen_error(self, error: Exception) -> SeenError: ...

    @abstractmethod
    def close(self) -> None: ...


def folded(kinds: Iterable[str]) -> list[str]:
    order: list[str] = []
    for kind in kinds:
        if not order or order[-1] != kind:
            order.append(kind)
    return order


def _png_data_url(data: str) -> str:
    return f"data:image/png;base64,{data}"


# --- OpenAI: Chat Completions and Responses ------------------------------------------------------


class _OpenAIDoor(Door):
    errors: ClassVar[dict[int, tuple[type[Exception], str]]] = {
        429: (openai.RateLimitError, "rate_limit_error"),
        503: (openai.InternalServerError, "server_error"),
    }

    def __init__(self, gateway_url: str) -> None:
        self.sdk = openai.OpenAI(base_url=gateway_url + "/v1", api_key="client-key", max_retries=0)

    def seen_error(self, error: Exception) -> SeenError:
        assert isinstance(error, openai.APIStatusError), error
        body = error.body
        assert isinstance(body, dict), body  # the SDK hands over the `error` object's fields
        return SeenError(
            error.status_code,
            str(body["type"]),
            error.response.headers.get("retry-after"),
            error.response.text,
        )

    def close(self) -> None:
        self.sdk.close()


class ChatDoor(_OpenAIDoor):
    name = "openai_chat"
    finishes: ClassVar[dict[str, str]] = {
        "end_turn": "stop",
        "tool_use": "tool_calls",
        "max_tokens": "length",
    }

    def ask(self, ask: Ask, *, stream: bool) -> Reply:
        tools: list[ChatCompletionFunctionToolParam] | openai.Omit = openai.omit
        if ask.schema is not None:
            function: FunctionDefinition = {
                "name": TOOL_NAME,
                "description": TOOL_DESCRIPTION,
                "parameters": ask.schema,
            }
            tools = [{"type": "function", "function": function}]
        answer = self.sdk.chat.completions.create(
            model=ask.model,
            messages=_chat_messages(ask),
            tools=tools,
            reasoning_effort=EFFORT if ask.reasoning else openai.omit,
            stream=stream,
            stream_options={"include_usage": True} if stream else openai.omit,
        )
        if isinstance(answer, ChatCompletion):
            return _from_completion(answer)
        with answer:
            return _from_chunks(list(answer))


def _chat_messages(ask: Ask) -> list[ChatCompletionMessageParam]:
    content: str | list[ChatCompletionContentPartParam] = ask.prompt
    if ask.image is not None:
        content = [
            {"type": "image_url", "image_url": {"url": _png_data_url(ask.image)}},
            {"type": "text", "text": ask.prompt},
        ]
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": content}]
    if ask.answered is not None:
        messages.append(cast(ChatCompletionMessageParam, ask.answered.turn))
        results = zip(ask.answered.call_ids, ask.results, strict=True)
        messages += [{"role": "tool", "tool_call_id": i, "content": out} for i, out in results]
    return messages


def _from_completion(completion: ChatCompletion) -> Reply:
    (choice,) = completion.choices
    message = choice.message
    thinking = (message.model_extra or {}).get("reasoning_content") or ""
    calls = [call for call in message.tool_calls or () if call.type == "function"]
    assert completion.usage is not None
    return Reply(
        text=message.content or "",
        thinking=thinking,
        calls=[(c.function.name, json.loads(c.function.arguments)) for c in calls],
        finish=choice.finish_reason,
        input_tokens=completion.usage.prompt_tokens,
        output_tokens=completion.usage.completion_tokens,
        call_ids=[call.id for call in calls],
        # One content string, the calls apart: where the text stood among them is not said.
        order=None,
        turn=message.to_dict(),
    )


def _from_chunks(chunks: list[ChatCompletionChunk]) -> Reply:
    *answer, last = chunks
    assert last.choices == [] and last.usage is not None, "no closing usage chunk"
    assert all(chunk.usage is None for chunk in answer)
    assert {chunk.id for chunk in chunks} == {last.id}
    deltas = [(choice.delta, choice.finish_reason) for chunk in answer for choice in chunk.choices]
    assert deltas[0][0].role == "assistant"
    finishes = [reason for _, reason in deltas]
    assert finishes[-1] is not None and not any(finishes[:-1]), finishes
    text: list[str] = []
    thinking: list[str] = []
    kinds: list[str] = []
    names: dict[int, str] = {}
    ids: dict[int, str] = {}
    arguments: dict[int, str] = {}
    for delta, _ in deltas:
        if reasoning := (delta.model_extra or {}).get("reasoning_content"):
            thinking.append(reasoning)
            kinds.append("thinking")
        if delta.content:
            text.append(delta.content)
            kinds.append("text")
        for call in delta.tool_calls or ():
            kinds.append("tool_use")
            if call.id is not None:
                assert call.index not in ids, "a tool call started twice"
                ids[call.index] = call.id
            if call.function is not None:
                names[call.index] = names.get(call.index, "") + (call.function.name or "")
                arguments[call.index] = arguments.get(call.index, "") + (
                    call.function.arguments or ""
                )
    return Reply(
        text="".join(text),
        thinking="".join(thinking),
        calls=[(names[i], json.loads(arguments[i] or "{}")) for i in sorted(ids)],
        finish=str(finishes[-1]),
        input_tokens=last.usage.prompt_tokens,
        output_tokens=last.usage.completion_tokens,
        call_ids=[ids[i] for i in sorted(ids)],
        order=folded(kinds),
    )


class ResponsesDoor(_OpenAIDoor):
    name = "openai_responses"
    # A Responses answer has no finish reason: a cut answer is "incomplete", the rest done.
    finishes: ClassVar[dict[str, str]] = {
        "end_turn": "completed",
        "tool_use": "completed",
        "max_tokens": "incomplete",
    }

    def ask(self, ask: Ask, *, stream: bool) -> Reply:
        tools: list[FunctionToolParam] | openai.Omit = openai.omit
        if ask.schema is not None:
            tools = [
                {
                    "type": "function",
                    "name": TOOL_NAME,
                    "description": TOOL_DESCRIPTION,
                    "parameters": ask.schema,
                    "strict": False,
                }
            ]
        answer = self.sdk.responses.create(
            model=ask.model,
            input=_responses_input(ask),
            tools=tools,
            reasoning={"effort": EFFORT} if ask.reasoning else openai.omit,
            store=False,
            stream=stream,
        )
        if isinstance(answer, Response):
            return _from_response(answer)
        with answer:
            return _from_events(list(answer))


def _responses_input(ask: Ask) -> list[ResponseInputItemParam]:
    content: list[ResponseInputContentParam] = [{"type": "input_text", "text": ask.prompt}]
    if ask.image is not None:
        image_url = _png_data_url(ask.image)
        content.insert(0, {"type": "input_image", "image_url": image_url, "detail": "auto"})
    items: list[ResponseInputItemParam] = [{"role": "user", "content": content}]
    if ask.answered is not None:
        # As the SDK's own examples continue a conversation: the output items, as received.
        items += cast(list[ResponseInputItemParam], ask.answered.turn)
        results = zip(ask.answered.call_ids, ask.results, strict=True)
        items += [{"type": "function_call_output", "call_id": i, "output": o} for i, o in results]
    return items


_ITEM_KINDS = {"message": "text", "reasoning": "thinking", "function_call": "tool_use"}


def _from_response(response: Response, order: list[str] | None = None) -> Reply:
    texts = [
        part.text
        for item in response.output
        if item.type == "message"
        for part in item.content
        if part.type == "output_text"
    ]
    thinking = [
        part.text for item in response.output if item.type == "reasoning" for part in item.summary
    ]
    calls = [item for item in response.output if item.type == "function_call"]
    assert response.usage is not None
    return Reply(
        text="".join(texts),
        thinking="".join(thinking),
        calls=[(call.name, json.loads(call.arguments)) for call in calls],
        finish=response.status or "",
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        call_ids=[call.call_id for call in calls],
        order=order or folded(_ITEM_KINDS[item.type] for item in response.output),
        turn=[item.to_dict() for item in response.output],
    )


def _from_events(events: list[ResponseStreamEvent]) -> Reply:
    numbers = [event.sequence_number for event in events]
    assert numbers == sorted(set(numbers)), f"sequence numbers out of order: {numbers}"
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"], kinds
    assert kinds[-1] == "response.completed" and kinds.count(kinds[-1]) == 1, kinds
    added = [e.output_index for e in events if e.type == "response.output_item.added"]
    done = [e.output_index for e in events if e.type == "response.output_item.done"]
    assert added == done == sorted(added), (added, done)
    last = events[-1]
    assert last.type == "response.completed"
    streamed = _from_response(
        last.response,
        order=folded(
            _ITEM_KINDS[e.item.type] for e in events if e.type == "response.output_item.added"
        ),
    )
    # The deltas must spell what the closing response says.
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    thinking = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    assert (text, thinking) == (streamed.text, streamed.thinking)
    return streamed


# --- Gemini generateContent ----------------------------------------------------------------------


class GeminiDoor(Door):
    name = "gemini"
    errors: ClassVar[dict[int, tuple[type[Exception], str]]] = {
        429: (genai_errors.ClientError, "RESOURCE_EXHAUSTED"),
        503: (genai_errors.ServerError, "UNAVAILABLE"),
    }
    finishes: ClassVar[dict[str, str]] = {
        "end_turn": "STOP",
        "tool_use": "STOP",
        "max_tokens": "MAX_TOKENS",
    }

    def __init__(self, gateway_url: str) -> None:
        self.sdk = genai.Client(
            api_key="client-key",
            http_options=genai_types.HttpOptions(
                base_url=gateway_url, retry_options=genai_types.HttpRetryOptions(attempts=1)
            ),
        )

    def ask(self, ask: Ask, *, stream: bool) -> Reply:
        config = genai_types.GenerateContentConfig()
        if ask.schema is not None:
            declaration = genai_types.FunctionDeclaration(
                name=TOOL_NAME, description=TOOL_DESCRIPTION, parameters_json_schema=ask.schema
            )
            config.tools = [genai_types.Tool(function_declarations=[declaration])]
        if ask.reasoning:
            config.thinking_config = genai_types.ThinkingConfig(
                thinking_budget=BUDGET, include_thoughts=True
            )
        contents = _gemini_contents(ask)
        if not stream:
            answer = self.sdk.models.generate_content(
                model=ask.model, contents=contents, config=config
            )
            return _from_gemini([answer], streamed=False)
        chunks = self.sdk.models.generate_content_stream(
            model=ask.model, contents=contents, config=config
        )
        return _from_gemini(list(chunks), streamed=True)

    def seen_error(self, error: Exception) -> SeenError:
        assert isinstance(error, genai_errors.APIError), error
        details = error.details["error"].get("details", [])
        delays = [d["retryDelay"] for d in details if d["@type"].endswith("google.rpc.RetryInfo")]
        retry_after = delays[0].removesuffix("s") if delays else None
        return SeenError(error.code, str(error.status), retry_after, json.dumps(error.details))

    def close(self) -> None:
        self.sdk.close()


def _gemini_contents(ask: Ask) -> list[genai_types.Content]:
    parts = [genai_types.Part(text=ask.prompt)]
    if ask.image is not None:
        blob = genai_types.Blob(mime_type="image/png", data=base64.b64decode(ask.image))
        parts.insert(0, genai_types.Part(inline_data=blob))
    contents = [genai_types.Content(role="user", parts=parts)]
    if ask.answered is not None:
        contents.append(cast(genai_types.Content, ask.answered.turn))
        answered = zip(ask.answered.calls, ask.answered.call_ids, ask.results, strict=True)
        results = [
            genai_types.Part(
                function_response=genai_types.FunctionResponse(
                    id=call_id, name=name, response={"output": output}
                )
            )
            for (name, _), call_id, output in answered
        ]
        contents.append(genai_types.Content(role="user", parts=results))
    return contents


def _part_kind(part: genai_types.Part) -> str | None:
    if part.function_call is not None:
        return "tool_use"
    if part.text:
        return "thinking" if part.thought else "text"
    return None  # an empty text: a stream's closing part, or one carrying a signature only


def _joined(parts: list[genai_types.Part], kind: str) -> str:
    return "".join(part.text or "" for part in parts if _part_kind(part) == kind)


def _from_gemini(chunks: list[genai_types.GenerateContentResponse], *, streamed: bool) -> Reply:
    candidates = []
    for chunk in chunks:
        assert chunk.candidates is not None and len(chunk.candidates) == 1, chunk
        candidates.append(chunk.candidates[0])
    finishes = [candidate.finish_reason for candidate in candidates]
    assert finishes[-1] is not None and not any(finishes[:-1]), finishes
    parts = [
        part
        for candidate in candidates
        if candidate.content is not None
        for part in candidate.content.parts or ()
    ]
    usage = chunks[-1].usage_metadata
    assert usage is not None
    kept = [part for part in parts if _part_kind(part) or part.thought_signature]
    calls = [part.function_call for part in parts if part.function_call is not None]
    return Reply(
        text=_joined(parts, "text"),
        thinking=_joined(parts, "thinking"),
        calls=[(call.name or "", call.args or {}) for call in calls],
        finish=finishes[-1].value,
        input_tokens=usage.prompt_token_count or 0,
        output_tokens=usage.candidates_token_count or 0,
        call_ids=[call.id or "" for call in calls],
        order=folded(kind for part in parts if (kind := _part_kind(part)) is not None),
        turn=None if streamed else genai_types.Content(role="model", parts=kept),
    )


DOORS: dict[str, Callable[[str], Door]] = {
    door.name: door for door in (ChatDoor, ResponsesDoor, GeminiDoor)
}
