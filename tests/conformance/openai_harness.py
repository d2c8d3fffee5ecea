"""The conformance harness for OpenAI Chat Completions, over tests.fakes.openai."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ai_proxy.providers.openai.call_ids import to_openai_call_id

from tests.fakes.openai import (
    API_KEY,
    Answer,
    ErrorReply,
    FakeOpenAI,
    ToolCall,
    rate_limited,
    server_error,
)

from .harness import (
    PROMPT_TOO_LONG,
    Block,
    Call,
    ErrorKind,
    ExpectedError,
    KeyedUpstream,
    Scenario,
    Sent,
    SentResult,
)

_CHOICES = {"auto": "auto", "required": "any", "none": "none"}
# The gateway tells the model a tool failed with this prefix: a tool message has no
# is_error field.
ERROR_PREFIX = "Error: "
# OpenAI's reasoning_effort values, least to most.
OPENAI_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


class OpenAIHarness(KeyedUpstream):
    provider = "openai"
    api_key = API_KEY
    model = "gpt-4.1"
    # Chat Completions never returns reasoning text, so thinking needs a reasoning model to
    # mean anything: the request must carry reasoning_effort, the answer is text only.
    thinking_model = "o4-mini"
    relays_request = False

    def __init__(self) -> None:
        self.fake = FakeOpenAI()

    @contextmanager
    def serve(self) -> Iterator[str]:
        with self.fake.serve() as base_url:
            yield base_url

    def reset(self) -> None:
        self.fake.reset()

    def check_clean(self) -> None:
        assert self.fake.rejections == [], "the gateway sent a body OpenAI would reject"

    def enqueue(self, *replies: object) -> None:
        self.fake.enqueue(*replies)  # type: ignore[arg-type]

    @property
    def requests(self) -> list[Sent]:
        return [
            Sent(
                r.body,
                r.body.get("stream") is True,
                prompt={k: v for k, v in r.body.items() if k not in ("stream", "stream_options")},
            )
            for r in self.fake.requests
        ]

    # --- scenarios --------------------------------------------------------------------------

    def text(self, text: str, chunks: int = 1) -> Scenario:
        return Scenario(Answer(content=_pieces(text, chunks)), [("text", text)], "end_turn")

    def tool_calls(
        self,
        calls: Sequence[Call],
        *,
        preamble: str | None = None,
        thinking: str | None = None,
        forced: bool = False,
    ) -> Scenario:
        reply = Answer(
            content=[preamble] if preamble is not None else [],
            tool_calls=[ToolCall(name, _pieces(json.dumps(args), 3)) for name, args in calls],
            # A call forced by tool_choice ends with finish_reason "stop", not "tool_calls".
            finish_reason="stop" if forced else "tool_calls",
            reasoning_tokens=64 if thinking is not None else 0,
        )
        # No visible thinking: Chat Completions keeps the reasoning to itself.
        content: list[Block] = [("text", preamble)] if preamble is not None else []
        content += [("tool_use", call) for call in calls]
        return Scenario(reply, content, "tool_use")

    def thinking_then_text(self, thinking: str, text: str) -> Scenario:
        # The model reasons (reasoning_tokens are billed as output) but only the text comes
        # back: the client sees no thinking block at all.
        reply = Answer(content=_pieces(text, 2), reasoning_tokens=128, completion_tokens=140)
        return Scenario(reply, [("text", text)], "end_turn")

    def max_tokens(self, text: str) -> Scenario:
        reply = Answer(content=_pieces(text, 2), finish_reason="length")
        return Scenario(reply, [("text", text)], "max_tokens")

    def stop_sequence(self, text: str, sequence: str) -> Scenario:
        # OpenAI ends on a stop sequence with finish_reason "stop", like any finished answer,
        # and never says which one matched: end_turn, no stop_sequence.
        return Scenario(Answer(content=[text]), [("text", text)], "end_turn", stop_sequence=None)

    def error(self, kind: ErrorKind) -> ExpectedError:
        match kind:
            case "invalid_request":
                reply = ErrorReply(
                    400,
                    "Invalid 'messages[0].content': string too long.",
                    code="string_above_max_length",
                    param="messages[0].content",
                )
                return ExpectedError(reply, 400, "invalid_request_error")
            case "context_too_long":
                reply = ErrorReply(
                    400,
                    "This model's maximum context length is 1047576 tokens. However, your "
                    "messages resulted in 1130412 tokens. Please reduce the length of the "
                    "messages.",
                    code="context_length_exceeded",
                    param="messages",
                )
                return ExpectedError(
                    reply, 400, "invalid_request_error", message_contains=PROMPT_TOO_LONG
                )
            case "not_found":
                reply = ErrorReply(
                    404,
                    f"The model `{self.model}` does not exist or you do not have access to it.",
                    code="model_not_found",
                )
                return ExpectedError(reply, 404, "not_found_error")
            case "upstream_auth":
                reply = ErrorReply(
                    401, "Incorrect API key provided: sk-proj-****.", code="invalid_api_key"
                )
                return ExpectedError(reply, 401, "authentication_error")
            case "rate_limited":
                return ExpectedError(rate_limited("7"), 429, "rate_limit_error", retry_after="7")
            case "server_error":
                return ExpectedError(server_error(500), 500, "api_error")
            case "overloaded":
                # "The engine is currently overloaded": 503.
                return ExpectedError(server_error(503), 529, "overloaded_error")

    # --- what the fake received -------------------------------------------------------------

    def sent_system(self, body: dict[str, Any]) -> list[str]:
        return [
            text for m in body["messages"] if m["role"] == "system" for text in _texts(m["content"])
        ]

    def sent_texts(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        return [
            (m["role"], text)
            for m in body["messages"]
            if m["role"] in ("user", "assistant")
            for text in _texts(m["content"])
        ]

    def sent_images(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        images = []
        for message in body["messages"]:
            if message["role"] != "user" or isinstance(message["content"], str):
                continue
            for part in message["content"]:
                if part["type"] == "image_url":
                    header, _, data = part["image_url"]["url"].partition(",")
                    assert header.startswith("data:") and header.endswith(";base64"), header
                    images.append((header[5:].removesuffix(";base64"), data))
        return images

    def sent_tools(self, body: dict[str, Any]) -> dict[str, tuple[str | None, dict[str, Any]]]:
        return {
            tool["function"]["name"]: (
                tool["function"].get("description"),
                tool["function"]["parameters"],
            )
            for tool in body.get("tools", ())
        }

    def sent_tool_choice(self, body: dict[str, Any]) -> dict[str, Any] | None:
        choice = body.get("tool_choice")
        if choice is None:
            assert "parallel_tool_calls" not in body
            return None
        sent: dict[str, Any]
        if isinstance(choice, dict):
            assert choice["type"] == "function", choice
            sent = {"type": "tool", "name": choice["function"]["name"]}
        else:
            sent = {"type": _CHOICES[choice]}
        if body.get("parallel_tool_calls") is False:
            sent["disable_parallel_tool_use"] = True
        return sent

    def carried_tool_choice(self, choice: dict[str, Any]) -> dict[str, Any]:
        return choice

    def sent_stop_sequences(self, body: dict[str, Any]) -> list[str]:
        stop = body.get("stop") or []
        return [stop] if isinstance(stop, str) else list(stop)

    def sent_max_tokens(self, body: dict[str, Any]) -> int:
        # max_tokens is deprecated and refused by reasoning models.
        assert "max_tokens" not in body
        return int(body["max_completion_tokens"])

    def sent_reasoning(self, body: dict[str, Any]) -> object:
        return body.get("reasoning_effort")

    def reasoning_for(self, budget_tokens: int) -> object:
        # OpenAI takes an effort, not a budget: the gateway's bands are < 4096 low,
        # < 16384 medium, else high.
        if budget_tokens < 4096:
            return "low"
        return "medium" if budget_tokens < 16384 else "high"

    def sent_effort_rank(self, body: dict[str, Any]) -> int | None:
        effort = body.get("reasoning_effort")
        return None if effort is None else OPENAI_EFFORTS.index(effort)

    def shows_thinking(self, body: dict[str, Any]) -> bool:
        return False  # Chat Completions never returns reasoning text

    def sent_output_schema(self, body: dict[str, Any]) -> dict[str, Any] | None:
        response_format = body.get("response_format")
        if response_format is None:
            return None
        assert response_format["type"] == "json_schema", response_format
        schema: dict[str, Any] = response_format["json_schema"]["schema"]
        return schema

    def sent_tool_calls(self, body: dict[str, Any]) -> list[Call]:
        return [
            (call["function"]["name"], json.loads(call["function"]["arguments"]))
            for m in body["messages"]
            if m["role"] == "assistant"
            for call in m.get("tool_calls") or ()
        ]

    def sent_tool_results(self, body: dict[str, Any]) -> list[SentResult]:
        results = []
        for message in body["messages"]:
            if message["role"] != "tool":
                continue
            content = message["content"]
            is_error = content == ERROR_PREFIX.strip(": ") or content.startswith(ERROR_PREFIX)
            text = content.removeprefix(ERROR_PREFIX) if is_error else content
            results.append(SentResult(message["tool_call_id"], text, is_error))
        return results

    def call_ref(self, tool_use_id: str, name: str) -> str:
        return to_openai_call_id(tool_use_id)  # the client saw it as toolu_oai_<OpenAI's id>

    def sent_signatures(self, body: dict[str, Any]) -> list[str]:
        return []  # Chat Completions cannot take reasoning back

    def returned_signatures(self, issued: list[str]) -> list[str]:
        return []


def _texts(content: str | list[dict[str, Any]] | None) -> list[str]:
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    return [part["text"] for part in content if part["type"] == "text"]


def _pieces(text: str, count: int) -> list[str]:
    """`text` cut into `count` consecutive pieces (some may be empty for short texts)."""
    size = -(-len(text) // max(1, count))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
