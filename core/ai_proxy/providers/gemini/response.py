"""Gemini GenerateContentResponse chunks -> Anthropic stream events.

A non-streaming Gemini answer has the same shape as one stream chunk, so the same translator
serves both paths.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import UpstreamError
from ..base import StreamTranslator
from ..blocks import Event, MessageStream
from ..ids import new_tool_use_id
from ..tool_names import ToolNames
from .errors import from_gemini_error_payload
from .grounding import LiveText, TextSink
from .signatures import to_our_signature

STOP_REASONS = {
    "STOP": "end_turn",
    "MAX_TOKENS": "max_tokens",
    "OTHER": "end_turn",
    "FINISH_REASON_UNSPECIFIED": "end_turn",
}
# Content withheld by Gemini's filters: the client must see a refusal, never an empty end_turn.
REFUSAL_REASONS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "LANGUAGE",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)
BROKEN_CALL_REASONS = frozenset(
    {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"}
)
# An empty answer is still one: nothing more to say (STOP), or max_tokens spent on thinking
# (Claude Code's one-token probe); refusals are answered as refusals.
ANSWERED_EMPTY_REASONS = frozenset({"STOP", "MAX_TOKENS"}) | REFUSAL_REASONS
# Gemini gave up without a usable answer: a 200 with an empty end_turn would hide it.
NO_ANSWER_REASONS = frozenset(
    {"MISSING_THOUGHT_SIGNATURE", "MALFORMED_RESPONSE", "IMAGE_OTHER", "NO_IMAGE"}
)


class GeminiStreamTranslator(StreamTranslator):
    def __init__(
        self,
        message_id: str,
        client_model: str,
        upstream_model: str,
        tool_names: ToolNames | None = None,
        answer_text: TextSink = LiveText,
    ) -> None:
        self._stream = MessageStream(message_id, client_model)
        self._text = answer_text(self._stream)
        # Signatures are stamped with the model that issued them (signatures.py).
        self._model = upstream_model
        self._names = tool_names if tool_names is not None else ToolNames()
        self._usage: dict[str, Any] = {}
        self._finish_reason: str | None = None
        self._finish_message = ""
        self._answered = False
        self._block_reason: str | None = None
        self._called_tool = False

    def feed_payload(self, payload: Any) -> list[Event]:
        if not isinstance(payload, dict):
            raise UpstreamError(f"gemini sent an unexpected payload: {str(payload)[:200]}")
        if "error" in payload:
            raise from_gemini_error_payload(payload, status=None)
        events: list[Event] = []
        usage = payload.get("usageMetadata")
        if isinstance(usage, dict):
            self._usage = usage
        if not self._stream.started:
            events.extend(self._stream.start(self._anthropic_usage(output=False)))
        feedback = payload.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            self._block_reason = str(feedback["blockReason"])
        for candidate in payload.get("candidates") or ():
            # We ask for one candidate; Gemini numbers them, and only index 0 is ours.
            if candidate.get("index", 0) != 0:
                continue
            self._text.observe(candidate)
            for part in (candidate.get("content") or {}).get("parts") or ():
                answer = self._feed_part(part)
                self._answered = self._answered or bool(answer)
                events.extend(answer)
            if candidate.get("finishReason"):
                self._finish_reason = candidate["finishReason"]
                self._finish_message = str(candidate.get("finishMessage") or "")
        return events

    def _feed_part(self, part: dict[str, Any]) -> list[Event]:
        stream = self._stream
        signature = part.get("thoughtSignature")
        if part.get("thought"):
            events = stream.thinking(part.get("text", ""))
            if signature:
                events.extend(stream.signature(to_our_signature(signature, self._model)))
            return events
        events = []
        if signature:
            # Gemini signs the part itself (usually a function call); the signature rides on an
            # empty thinking block of its own just before it, and returns with it (request.py).
            events.extend(stream.close_block())
            events.extend(stream.signature(to_our_signature(signature, self._model)))
        if "text" in part:
            events.extend(self._text.add(part["text"]))
        elif "functionCall" in part:
            call = part["functionCall"]
            self._called_tool = True
            name = self._names.to_client(call.get("name", ""))
            events.extend(stream.tool_use(new_tool_use_id(), name))
            events.extend(stream.tool_input(orjson.dumps(call.get("args") or {}).decode()))
            events.extend(stream.close_block())
        return events

    def finish(self) -> list[Event]:
        if not self._stream.started:
            raise UpstreamError("gemini answered with an empty stream")
        # Text held back for grounding goes out now, after the blocks of the search it used.
        held = self._text.finish()
        self._answered = self._answered or bool(held)
        if self._block_reason is not None:
            stop_reason = "refusal"
        elif self._finish_reason is None:
            raise UpstreamError("gemini's stream ended before the answer was finished")
        elif self._finish_reason in BROKEN_CALL_REASONS:
            raise UpstreamError(
                f"gemini could not produce a valid tool call ({self._finish_reason})"
            )
        elif self._finish_reason in NO_ANSWER_REASONS or not (
            self._answered or self._finish_reason in ANSWERED_EMPTY_REASONS
        ):
            detail = f": {self._finish_message}" if self._finish_message else ""
            raise UpstreamError(f"gemini gave no usable answer ({self._finish_reason}){detail}")
        elif self._called_tool:
            stop_reason = "tool_use"
        elif self._finish_reason in REFUSAL_REASONS:
            stop_reason = "refusal"
        else:
            stop_reason = STOP_REASONS.get(self._finish_reason, "end_turn")
        usage = {**self._anthropic_usage(output=True), **self._text.usage()}
        return held + self._stream.stop(stop_reason, usage)

    def _anthropic_usage(self, *, output: bool) -> dict[str, int]:
        usage = self._usage
        cached = int(usage.get("cachedContentTokenCount", 0))
        # Anthropic counts cache reads apart from input_tokens; Gemini includes them in the prompt.
        result = {
            "input_tokens": int(usage.get("promptTokenCount", 0)) - cached,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cached,
            "output_tokens": 0,
        }
        if output:
            result["output_tokens"] = int(usage.get("candidatesTokenCount", 0)) + int(
                usage.get("thoughtsTokenCount", 0)
            )
        return result
