"""Canned upstream answers: what Gemini and OpenAI send back for a ~300-token reply.

Shapes follow the providers' wire formats as of 2025: Gemini's GenerateContentResponse (the
same object is one `alt=sse` chunk; Gemini separates SSE events with CRLF CRLF), OpenAI's
chat.completion and chat.completion.chunk (with the trailing usage chunk that
`stream_options.include_usage` asks for, then `[DONE]`). Built once, served as bytes.
"""

from __future__ import annotations

from typing import Any

import orjson

# ~300 tokens of English (~1,250 characters), split into STREAM_EVENTS pieces for streams.
_SENTENCES = [
    "The function reads the configuration once at start-up and caches the parsed values.",
    "Each request is validated at the edge, translated into the provider's wire format,",
    "and sent over a pooled connection, so no handshake is paid on the hot path.",
    "When the upstream answers, the translator maps every chunk to Anthropic events:",
    "a message start, content blocks opened and closed in order, then the final delta.",
    "Errors are classified once: client mistakes become 400s that name the field,",
    "while upstream failures keep their status and carry a retry hint when one exists.",
    "To verify the change, run the unit tests, then the conformance suite against the fakes,",
    "and finally the benchmark, which compares the gateway with a direct call upstream.",
    "If the overhead grows, profile the hot path before guessing where the time goes.",
    "Most regressions come from work repeated per request that could be done once:",
    "building schemas, compiling expressions, or re-serialising models that never change.",
    "Keep the event loop free of blocking calls, and let the pool reuse its connections.",
    "That is all that is needed here; the rest of the code already follows this pattern.",
]
TEXT = " ".join(_SENTENCES)
OUTPUT_TOKENS = 300
PROMPT_TOKENS = 1200
STREAM_EVENTS = 50


def _pieces(text: str, count: int) -> list[str]:
    """Split text into `count` consecutive pieces at word boundaries (joined, they are text)."""
    words = text.split(" ")
    per = len(words) / count
    pieces = []
    for i in range(count):
        chunk = words[round(i * per) : round((i + 1) * per)]
        pieces.append(("" if i == 0 else " ") + " ".join(chunk))
    assert "".join(pieces) == text
    return pieces


# The text pieces of a stream (Gemini: one per event; OpenAI: one per content chunk).
GEMINI_PIECES = _pieces(TEXT, STREAM_EVENTS)
OPENAI_PIECES = _pieces(TEXT, STREAM_EVENTS - 2)  # + role chunk, finish chunk, usage chunk


def _gemini_usage(output_tokens: int) -> dict[str, Any]:
    return {
        "promptTokenCount": PROMPT_TOKENS,
        "candidatesTokenCount": output_tokens,
        "totalTokenCount": PROMPT_TOKENS + output_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": PROMPT_TOKENS}],
    }


def _gemini_chunk(text: str, output_tokens: int, finish: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
    if finish:
        candidate["finishReason"] = "STOP"
    candidate["index"] = 0
    return {
        "candidates": [candidate],
        "usageMetadata": _gemini_usage(output_tokens),
        "modelVersion": "gemini-2.5-flash",
        "responseId": "bench-8yq5aJmOLpSk1dkP8K6vqQM",
    }


def gemini_json() -> bytes:
    return orjson.dumps(_gemini_chunk(TEXT, OUTPUT_TOKENS, finish=True))


def gemini_sse_events() -> list[bytes]:
    events = []
    for i, piece in enumerate(GEMINI_PIECES):
        tokens = round((i + 1) * OUTPUT_TOKENS / STREAM_EVENTS)
        chunk = _gemini_chunk(piece, tokens, finish=i == STREAM_EVENTS - 1)
        events.append(b"data: " + orjson.dumps(chunk) + b"\r\n\r\n")
    return events


_OPENAI_ID = "chatcmpl-BenchA1b2C3d4E5f6G7h8I9j0"
_OPENAI_MODEL = "gpt-4.1-mini-2025-04-14"
_OPENAI_USAGE = {
    "prompt_tokens": PROMPT_TOKENS,
    "completion_tokens": OUTPUT_TOKENS,
    "total_tokens": PROMPT_TOKENS + OUTPUT_TOKENS,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}


def openai_json() -> bytes:
    return orjson.dumps(
        {
            "id": _OPENAI_ID,
            "object": "chat.completion",
            "created": 1750000000,
            "model": _OPENAI_MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": TEXT,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _OPENAI_USAGE,
            "service_tier": "default",
            "system_fingerprint": "fp_bench0001",
        }
    )


def _openai_chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": _OPENAI_ID,
        "object": "chat.completion.chunk",
        "created": 1750000000,
        "model": _OPENAI_MODEL,
        "service_tier": "default",
        "system_fingerprint": "fp_bench0001",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
    }


def openai_sse_events() -> list[bytes]:
    chunks = [_openai_chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    chunks += [_openai_chunk({"content": piece}, None) for piece in OPENAI_PIECES]
    chunks.append(_openai_chunk({}, "stop"))
    usage = _openai_chunk({}, None)
    usage["choices"], usage["usage"] = [], _OPENAI_USAGE
    chunks.append(usage)
    events = [b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in chunks]
    events.append(b"data: [DONE]\n\n")
    return events
