"""OpenAI Chat Completions chunks -> Anthropic stream events.

A non-streaming ChatCompletion is rewritten as one big chunk (its message as the delta) and
fed through the very same code, so both paths agree by construction.

Ordering. Anthropic clients need each content block stopped before the next starts, while
OpenAI keys tool-call fragments by `index` and could in principle interleave them. Text and
each tool call are "segments" taken in order of first appearance; the current one streams
live and later ones are buffered until the current one can be left. Text can always be left;
a tool call only once its arguments form a complete JSON value, since any further fragment
of a finished call could only be whitespace. In the usual order (OpenAI finishes one call
before starting the next) nothing is held back; a call that really interleaves is delivered,
fragment by fragment, right after the call before it completes or at the end of the stream.

Usage. OpenAI reports usage only in its last chunk (`choices: []`, sent because we ask for
`stream_options.include_usage`), so a streamed `message_start` carries the input tokens we
counted locally (`input_tokens`, the best-known figure, as Anthropic's own message_start
does) and the final `message_delta` carries OpenAI's real counts; the Anthropic SDKs and our
own accumulator take the message_delta values as final. A non-streaming answer has its
usage at once.

Reasoning. Chat Completions sends no reasoning text, so no thinking block is ever made up:
a reasoning model that spends all of `max_completion_tokens` thinking (Claude Code's
`max_tokens: 1` probe) ends with `finish_reason: "length"` and no content, which is a
`max_tokens` stop with no content blocks, not an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ...errors import UpstreamError
from ...sse import SSEEvent
from ..base import StreamTranslator
from ..blocks import BlockKind, Event, MessageStream
from ..tool_names import ToolNames
from .call_ids import to_anthropic_tool_use_id
from .errors import from_openai_error_payload

DONE = "[DONE]"


@dataclass(slots=True)
class _ToolCall:
    index: int
    id: str
    name: str = ""
    arguments: str = ""  # every fragment so far
    buffered: list[str] = field(default_factory=list)  # fragments that came before its block
    left: bool = False  # its block is behind us: only whitespace may still arrive for it


@dataclass(slots=True)
class _Text:
    parts: list[str]


_Segment = _ToolCall | _Text


class OpenAIStreamTranslator(StreamTranslator):
    def __init__(
        self,
        message_id: str,
        client_model: str,
        tool_names: ToolNames | None = None,
        count_input: Callable[[], int] | None = None,
    ) -> None:
        self._stream = MessageStream(message_id, client_model)
        self._names = tool_names if tool_names is not None else ToolNames()
        # Called at most once, and only for a stream: a whole answer has OpenAI's count.
        self._count_input = count_input
        self._counted_input: int | None = None
        self._usage: dict[str, Any] = {}
        self._finish_reason: str | None = None
        self._refused = False
        self._calls: dict[int, _ToolCall] = {}
        self._current: _Segment | None = None
        self._queue: list[_Segment] = []
        # Whitespace that would open a text block; held until text with substance follows,
        # so a lone "\n\n" before a tool call never becomes an empty-looking block.
        self._space = ""

    def feed(self, event: SSEEvent) -> list[Event]:
        # OpenAI ends a stream with `data: [DONE]`, the one data line that is not JSON.
        if event.data.strip() == DONE:
            return self._close()
        return super().feed(event)

    def feed_payload(self, payload: Any) -> list[Event]:
        if not isinstance(payload, dict):
            raise UpstreamError(f"openai sent an unexpected payload: {str(payload)[:200]}")
        if payload.get("error"):
            raise from_openai_error_payload(payload, status=None)
        if self._stream.stopped:
            return []
        if payload.get("object") == "chat.completion":
            payload = _completion_as_chunk(payload)
        usage = payload.get("usage")
        if isinstance(usage, dict):
            self._usage = usage
        events: list[Event] = []
        if not self._stream.started:
            events.extend(self._stream.start(self._anthropic_usage()))
        for choice in payload.get("choices") or ():
            # We ask for one choice; only index 0 is ours.
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                events.extend(self._feed_delta(delta))
            if choice.get("finish_reason"):
                self._finish_reason = str(choice["finish_reason"])
        return events

    def finish(self) -> list[Event]:
        return self._close()

    def _feed_delta(self, delta: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        content = delta.get("content")
        if isinstance(content, str) and content:
            events.extend(self._text(content))
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            # The refusal's wording is the answer the client gets, with stop_reason refusal.
            self._refused = True
            events.extend(self._text(refusal))
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                events.extend(self._tool_fragment(call))
        return events

    def _text(self, text: str) -> list[Event]:
        if isinstance(self._current, _Text) and not self._queue:
            return self._emit_text(text)
        if self._queue and isinstance(self._queue[-1], _Text):
            self._queue[-1].parts.append(text)
        else:
            self._queue.append(_Text([text]))
        return self._advance()

    def _tool_fragment(self, fragment: dict[str, Any]) -> list[Event]:
        index = fragment.get("index", 0)
        if not isinstance(index, int):
            raise UpstreamError(f"openai sent a tool call without an index: {fragment!r:.200}")
        call = self._calls.get(index)
        if call is None:
            call = _ToolCall(index, to_anthropic_tool_use_id(fragment.get("id")))
            self._calls[index] = call
            self._queue.append(call)
        function = fragment.get("function") or {}
        name = function.get("name")
        # OpenAI sends the whole name once; some compatible servers repeat it in every chunk.
        if isinstance(name, str) and name and not call.name:
            call.name = name
        arguments = function.get("arguments")
        events: list[Event] = []
        if isinstance(arguments, str) and arguments:
            call.arguments += arguments
            if call is self._current:
                events.extend(self._stream.tool_input(arguments))
            elif call.left:
                if arguments.strip():
                    raise UpstreamError(
                        f"openai sent more arguments for tool call {index} after they formed "
                        "a complete JSON value"
                    )
            else:
                call.buffered.append(arguments)
        events.extend(self._advance())
        return events

    def _advance(self) -> list[Event]:
        """Move on to queued segments for as long as the current one can be left."""
        events: list[Event] = []
        while self._queue and self._can_leave_current():
            upcoming = self._queue[0]
            if isinstance(upcoming, _ToolCall) and not upcoming.name:
                break  # a block cannot start without the tool's name
            self._queue.pop(0)
            events.extend(self._enter(upcoming))
        return events

    def _can_leave_current(self) -> bool:
        current = self._current
        return not isinstance(current, _ToolCall) or _is_complete_json(current.arguments)

    def _enter(self, segment: _Segment) -> list[Event]:
        if isinstance(self._current, _ToolCall):
            self._current.left = True
        self._space = ""
        self._current = segment
        events: list[Event] = []
        if isinstance(segment, _Text):
            for part in segment.parts:
                events.extend(self._emit_text(part))
            return events
        if not segment.name:
            raise UpstreamError(f"openai sent tool call {segment.index} without a function name")
        events.extend(self._stream.tool_use(segment.id, self._names.to_client(segment.name)))
        for fragment in segment.buffered:
            events.extend(self._stream.tool_input(fragment))
        segment.buffered.clear()
        return events

    def _emit_text(self, text: str) -> list[Event]:
        if self._stream.open_kind is BlockKind.TEXT:
            return self._stream.text(text)
        self._space += text
        if not self._space.strip():
            return []
        text, self._space = self._space, ""
        return self._stream.text(text)

    def _close(self) -> list[Event]:
        if self._stream.stopped:
            return []
        if not self._stream.started:
            raise UpstreamError("openai answered with an empty stream")
        if self._finish_reason is None:
            raise UpstreamError(
                "openai's answer ended before it was finished (no finish_reason was sent)"
            )
        events: list[Event] = []
        while self._queue:
            events.extend(self._enter(self._queue.pop(0)))
        events.extend(self._stream.stop(self._stop_reason(), self._anthropic_usage()))
        return events

    def _stop_reason(self) -> str:
        reason = self._finish_reason
        if self._refused or reason == "content_filter":
            return "refusal"
        # A call forced by tool_choice ends with finish_reason "stop", not "tool_calls".
        if self._calls and reason in ("tool_calls", "function_call", "stop"):
            return "tool_use"
        if reason == "length":
            return "max_tokens"
        return "end_turn"

    def _anthropic_usage(self) -> dict[str, int]:
        usage = self._usage
        if "prompt_tokens" not in usage:
            # A stream before its last chunk (or one that never sent usage): our own count.
            return {
                "input_tokens": self._local_input_count(),
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": _int(usage.get("completion_tokens")),
            }
        details = usage.get("prompt_tokens_details")
        if not isinstance(details, dict):
            details = {}
        cached = _int(details.get("cached_tokens"))
        written = _int(details.get("cache_write_tokens"))
        # Anthropic counts cache reads and writes apart from input_tokens; OpenAI's
        # prompt_tokens includes them. Reasoning tokens are inside completion_tokens already.
        return {
            "input_tokens": max(0, _int(usage.get("prompt_tokens")) - cached - written),
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": cached,
            "output_tokens": _int(usage.get("completion_tokens")),
        }

    def _local_input_count(self) -> int:
        if self._counted_input is None:
            self._counted_input = self._count_input() if self._count_input else 0
        return self._counted_input


def _completion_as_chunk(completion: dict[str, Any]) -> dict[str, Any]:
    """A ChatCompletion as the single chunk that would have streamed it."""
    choices = []
    for choice in completion.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        message = choice.get("message") or {}
        calls = [
            {"index": position, "id": call.get("id"), "function": call.get("function")}
            for position, call in enumerate(message.get("tool_calls") or ())
            if isinstance(call, dict)
        ]
        delta = {
            "content": message.get("content"),
            "refusal": message.get("refusal"),
            "tool_calls": calls,
        }
        choices.append(
            {
                "index": choice.get("index", 0),
                "delta": delta,
                "finish_reason": choice.get("finish_reason"),
            }
        )
    return {"choices": choices, "usage": completion.get("usage")}


def _is_complete_json(text: str) -> bool:
    if not text.strip():
        return False
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
