"""A scripted Answer as Gemini's wire JSON: stream chunks, or the one merged response.

Token counts are deterministic so tests can assert them exactly:
  - a `text` string (answer, thought, prompt or system) counts its whitespace-separated words;
  - a functionCall, functionResponse or function declaration counts the words of its JSON
    written with `json.dumps` defaults;
  - an inlineData or fileData part counts 258, Gemini's price of one image.
promptTokenCount is that count over the request body, countTokens answers the same count,
and totalTokenCount = prompt + candidates + thoughts, as Gemini reports it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .gemini_replies import Answer, Part

MEDIA_TOKENS = 258
_JSON_COUNTED = {
    "functionCall",
    "function_call",
    "functionResponse",
    "function_response",
    "functionDeclarations",
    "function_declarations",
}
_MEDIA = {"inlineData", "inline_data", "fileData", "file_data"}
_TEXT_PART_KEYS = {"text", "thought", "thoughtSignature"}


@dataclass(frozen=True)
class RenderContext:
    model: str
    response_id: str
    prompt_tokens: int


def count_tokens(value: Any) -> int:
    if isinstance(value, list):
        return sum(count_tokens(item) for item in value)
    if not isinstance(value, dict):
        return 0
    total = 0
    for key, item in value.items():
        if key == "text" and isinstance(item, str):
            total += len(item.split())
        elif key in _JSON_COUNTED:
            total += len(json.dumps(item).split())
        elif key in _MEDIA:
            total += MEDIA_TOKENS
        else:
            total += count_tokens(item)
    return total


def stream_chunks(answer: Answer, ctx: RenderContext) -> list[dict[str, Any]]:
    """One GenerateContentResponse per chunk; usage is cumulative, the last one is final."""
    if _is_blocked(answer):
        return [_blocked_response(answer, ctx)]
    chunks = answer.chunks or ((),)
    final_candidates, final_thoughts = _final_counts(answer)
    out = []
    candidates = thoughts = 0
    for i, parts in enumerate(chunks):
        last = i == len(chunks) - 1
        c, t = _output_counts(parts)
        candidates, thoughts = candidates + c, thoughts + t
        if last:
            usage = _usage(ctx.prompt_tokens, final_candidates, final_thoughts, answer)
        else:
            shown = (min(candidates, final_candidates), min(thoughts, final_thoughts))
            usage = _usage(ctx.prompt_tokens, *shown, answer)
        out.append(_response(parts, answer if last else None, usage, ctx))
    return out


def merged_response(answer: Answer, ctx: RenderContext) -> dict[str, Any]:
    """What generateContent returns for the same answer: every part in one candidate."""
    if _is_blocked(answer):
        return _blocked_response(answer, ctx)
    parts = merge_parts(part for chunk in answer.chunks for part in chunk)
    usage = _usage(ctx.prompt_tokens, *_final_counts(answer), answer)
    return _response(tuple(parts), answer, usage, ctx)


def merge_parts(parts: Iterable[Part]) -> list[Part]:
    """Adjacent text parts of one kind (thought or not) join, keeping the one signature.

    This is how the same generation comes back unstreamed; function calls never merge.
    """
    merged: list[Part] = []
    for part in parts:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and _is_text_part(previous)
            and _is_text_part(part)
            and bool(previous.get("thought")) == bool(part.get("thought"))
            and not ("thoughtSignature" in previous and "thoughtSignature" in part)
        ):
            joined = {**previous, "text": previous["text"] + part["text"]}
            if "thoughtSignature" in part:
                joined["thoughtSignature"] = part["thoughtSignature"]
            merged[-1] = joined
        else:
            merged.append(dict(part))
    return merged


def sse_event(body: dict[str, Any]) -> bytes:
    # Google's SSE lines put ": " after keys and nothing after commas, and end with CRLF CRLF.
    return (
        b"data: "
        + json.dumps(body, separators=(",", ": "), ensure_ascii=False).encode()
        + b"\r\n\r\n"
    )


def json_array_piece(body: dict[str, Any], first: bool) -> bytes:
    """Without alt=sse, streamGenerateContent streams one pretty-printed JSON array."""
    return (b"[" if first else b"\n,\r\n") + json.dumps(body, indent=2, ensure_ascii=False).encode()


JSON_ARRAY_END = b"\n]"


def _response(
    parts: Sequence[Part], final: Answer | None, usage: dict[str, Any], ctx: RenderContext
) -> dict[str, Any]:
    candidate: dict[str, Any] = {}
    if parts:
        candidate["content"] = {"parts": [dict(p) for p in parts], "role": "model"}
    if final is not None and final.finish_reason:
        candidate["finishReason"] = final.finish_reason
    if final is not None and final.finish_message:
        candidate["finishMessage"] = final.finish_message
    candidate["index"] = 0
    if final is not None and final.safety_ratings:
        candidate["safetyRatings"] = [dict(r) for r in final.safety_ratings]
    if final is not None and final.grounding_metadata:
        candidate["groundingMetadata"] = final.grounding_metadata
    if final is not None and final.url_context_metadata:
        candidate["urlContextMetadata"] = final.url_context_metadata
    body: dict[str, Any] = {"candidates": [candidate]}
    if final is not None and final.prompt_feedback:
        body["promptFeedback"] = dict(final.prompt_feedback)
    body["usageMetadata"] = usage
    body["modelVersion"] = final.model_version if final and final.model_version else ctx.model
    body["responseId"] = ctx.response_id
    return body


def _blocked_response(answer: Answer, ctx: RenderContext) -> dict[str, Any]:
    return {
        "promptFeedback": dict(answer.prompt_feedback or {}),
        "usageMetadata": _usage(ctx.prompt_tokens, 0, 0, answer),
        "modelVersion": answer.model_version or ctx.model,
        "responseId": ctx.response_id,
    }


def _usage(prompt: int, candidates: int, thoughts: int, answer: Answer) -> dict[str, Any]:
    prompt = answer.usage.prompt if answer.usage.prompt is not None else prompt
    usage: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + thoughts,
        "cachedContentTokenCount": answer.usage.cached or 0,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        "thoughtsTokenCount": thoughts,
    }
    # proto3 JSON leaves zero numbers out: a thinking-only chunk has no candidatesTokenCount.
    return {k: v for k, v in usage.items() if v != 0}


def _final_counts(answer: Answer) -> tuple[int, int]:
    candidates, thoughts = _output_counts(p for chunk in answer.chunks for p in chunk)
    if answer.usage.candidates is not None:
        candidates = answer.usage.candidates
    if answer.usage.thoughts is not None:
        thoughts = answer.usage.thoughts
    return candidates, thoughts


def _output_counts(parts: Iterable[Part]) -> tuple[int, int]:
    candidates = thoughts = 0
    for part in parts:
        if part.get("thought"):
            thoughts += count_tokens({"text": part.get("text", "")})
        else:
            candidates += count_tokens(part)
    return candidates, thoughts


def _is_text_part(part: Part) -> bool:
    return isinstance(part.get("text"), str) and set(part) <= _TEXT_PART_KEYS


def _is_blocked(answer: Answer) -> bool:
    return bool(answer.prompt_feedback and answer.prompt_feedback.get("blockReason"))
