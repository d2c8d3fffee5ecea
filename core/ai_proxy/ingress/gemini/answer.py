"""An Anthropic message -> a Gemini GenerateContentResponse, and what its stream shares.

Thinking: thought parts (`thought: true`) when the client asked for thoughts, and always the
blocks themselves in the `thoughtSignature` of the part after them (thoughts.py). Web search
(Gemini's googleSearch, run as Anthropic's server tool) becomes the candidate's
`groundingMetadata`: the queries and the pages found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from ..base import IngressCall
from .thoughts import to_thought_signature

Part = dict[str, Any]
# Anthropic stop_reason -> Gemini finishReason; a tool call ends with STOP on Gemini too.
FINISH_REASONS = {
    "end_turn": "STOP",
    "stop_sequence": "STOP",
    "tool_use": "STOP",
    "pause_turn": "STOP",
    "max_tokens": "MAX_TOKENS",
    "model_context_window_exceeded": "MAX_TOKENS",
    "refusal": "SAFETY",
}


def to_finish_reason(stop_reason: Any) -> str:
    return FINISH_REASONS.get(stop_reason, "STOP") if isinstance(stop_reason, str) else "STOP"


@dataclass(slots=True)
class Signer:
    """Thinking blocks waiting for the part that follows them to carry them."""

    pending: list[dict[str, Any]] = field(default_factory=list)

    def sign(self, part: Part) -> Part:
        if self.pending:
            part["thoughtSignature"] = to_thought_signature(self.pending)
            self.pending = []
        return part

    def leftover(self) -> Part | None:
        """A part for thinking that nothing followed (the answer ran out while thinking)."""
        return self.sign({"text": ""}) if self.pending else None


@dataclass(slots=True)
class Grounding:
    """What Anthropic's web search blocks say, as Gemini's groundingMetadata."""

    queries: list[str] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)

    def add(self, block: dict[str, Any]) -> bool:
        """Take `block` if it is a web search's; whether it was."""
        match block.get("type"):
            case "server_tool_use":
                query = (block.get("input") or {}).get("query")
                if isinstance(query, str):
                    self.queries.append(query)
                return True
            case "web_search_tool_result" | "web_fetch_tool_result":
                content = block.get("content")
                for result in content if isinstance(content, list) else ():
                    if isinstance(result, dict) and result.get("url"):
                        page = {"uri": result["url"], "title": result.get("title") or ""}
                        self.pages.append({"web": page})
                return True
        return False

    def metadata(self) -> dict[str, Any] | None:
        if not (self.queries or self.pages):
            return None
        return {"webSearchQueries": self.queries, "groundingChunks": self.pages}


def function_call(block: dict[str, Any], arguments: Any) -> Part:
    return {
        "functionCall": {
            "id": block.get("id", ""),
            "name": block.get("name", ""),
            "args": arguments,
        }
    }


def to_usage_metadata(usage: dict[str, Any]) -> dict[str, Any]:
    """Gemini's promptTokenCount includes cached tokens, which Anthropic counts apart."""
    cached = _count(usage.get("cache_read_input_tokens"))
    prompt = _count(usage.get("input_tokens")) + cached
    prompt += _count(usage.get("cache_creation_input_tokens"))
    output = _count(usage.get("output_tokens"))
    metadata = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output,
    }
    if cached:
        metadata["cachedContentTokenCount"] = cached
    return metadata


def response_envelope(
    call: IngressCall, parts: list[Part], usage: dict[str, Any], finish: str | None = None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": to_usage_metadata(usage),
        "modelVersion": call.client_model,
        "responseId": call.request_id,
    }


def to_generate_content_response(
    message: dict[str, Any], call: IngressCall, *, include_thoughts: bool
) -> bytes:
    parts: list[Part] = []
    signer = Signer()
    grounding = Grounding()
    for block in message.get("content") or ():
        kind = block.get("type")
        if kind in ("thinking", "redacted_thinking"):
            signer.pending.append(block)
            if include_thoughts and block.get("thinking"):
                parts.append({"text": block["thinking"], "thought": True})
        elif kind == "text":
            parts.append(signer.sign({"text": block.get("text", "")}))
        elif kind == "tool_use":
            parts.append(signer.sign(function_call(block, block.get("input") or {})))
        else:
            grounding.add(block)
    if (part := signer.leftover()) is not None:
        parts.append(part)
    response = response_envelope(
        call, parts, message.get("usage") or {}, to_finish_reason(message.get("stop_reason"))
    )
    if (metadata := grounding.metadata()) is not None:
        response["candidates"][0]["groundingMetadata"] = metadata
    return orjson.dumps(response)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
