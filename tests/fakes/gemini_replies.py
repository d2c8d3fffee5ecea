"""What the fake Gemini answers next: reply types and builders for realistic answers.

An `Answer` is written the way Gemini streams it, one tuple of parts per SSE chunk; the fake
merges the chunks itself when the client called the non-streaming endpoint, so one scripted
answer drives both paths. `HttpReply` is any fixed HTTP answer (Google's error bodies, a
proxy's HTML page, broken JSON), and `Hang` never answers.

    fake.enqueue(text_answer("Hello there, friend", chunks=3))
    fake.enqueue(tool_call_answer(function_call("get_weather", {"city": "Paris"})))
    fake.enqueue(replace(text_answer("slow"), timing=Timing(between_chunks=0.5), cut=Cut(1)))
    fake.enqueue(rate_limited(retry_delay="17s"))
    fake.enqueue(grounded_answer("Paris is the capital.", queries=["capital of France"],
                                 sources=[("https://example.org/paris", "example.org")],
                                 supports=[("Paris is the capital.", [0])]))
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict, Unpack

from . import gemini_errors as errors

Part = dict[str, Any]
Chunk = tuple[Part, ...]

HARM_CATEGORIES = (
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
)


@dataclass(frozen=True)
class Timing:
    """Seconds to wait: before the status line, before the first chunk, between chunks.

    A non-streamed answer arrives after all of them, like the whole generation would.
    """

    before_headers: float = 0.0
    before_first_chunk: float = 0.0
    between_chunks: float = 0.0


@dataclass(frozen=True)
class Cut:
    """Drop the connection after `after_chunks` whole events, with no finishReason sent.

    `mid_event` also sends the first half of the next event; `reset` ends with a TCP RST
    instead of a FIN. A non-streamed answer is cut halfway through its body.
    """

    after_chunks: int
    mid_event: bool = False
    reset: bool = False


@dataclass(frozen=True)
class StreamError:
    """After `after_chunks` events (fewer than the answer has), an SSE event carrying Google's
    error body ends the stream. The non-streaming endpoint answers the error itself, with its
    HTTP status. Google does not document this shape; it is the error body inside `data:`.
    """

    after_chunks: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Usage:
    """Token counts to report instead of the computed ones (see gemini_render)."""

    prompt: int | None = None
    candidates: int | None = None
    thoughts: int | None = None
    cached: int | None = None


@dataclass(frozen=True)
class Answer:
    """A 200 answer: one tuple of parts per stream chunk; the rest goes on the last chunk."""

    chunks: tuple[Chunk, ...] = ()
    finish_reason: str | None = "STOP"
    finish_message: str | None = None
    safety_ratings: tuple[dict[str, Any], ...] = ()
    prompt_feedback: dict[str, Any] | None = None  # with a blockReason: no candidates at all
    usage: Usage = field(default_factory=Usage)
    model_version: str | None = None  # default: the model named in the URL
    timing: Timing = field(default_factory=Timing)
    cut: Cut | None = None
    stream_error: StreamError | None = None
    # Google Search grounding and URL context: sent on the last chunk's candidate, as Gemini does.
    grounding_metadata: dict[str, Any] | None = None
    url_context_metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class HttpReply:
    """A fixed HTTP answer, sent as-is on either endpoint."""

    status: int
    body: bytes
    content_type: str = errors.JSON_CONTENT_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    timing: Timing = field(default_factory=Timing)


@dataclass(frozen=True)
class Hang:
    """Never answer; with `send_headers`, send the 200 status line first, then nothing."""

    send_headers: bool = False


Reply = Answer | HttpReply | Hang


class AnswerOptions(TypedDict, total=False):
    finish_reason: str | None
    usage: Usage
    model_version: str | None
    timing: Timing
    cut: Cut | None
    stream_error: StreamError | None
    grounding_metadata: dict[str, Any] | None
    url_context_metadata: dict[str, Any] | None


# --- parts -------------------------------------------------------------------------------


def fake_signature(seed: str) -> str:
    """A thought signature: opaque base64 bytes, like Gemini's, but recognisable in asserts."""
    return base64.b64encode(b"fake-thought-signature:" + seed.encode()).decode()


def text(value: str, *, signature: str | None = None) -> Part:
    part: Part = {"text": value}
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


def thought(value: str, *, signature: str | None = None) -> Part:
    part: Part = {"text": value, "thought": True}
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


def function_call(
    name: str,
    args: dict[str, Any] | None = None,
    *,
    id: str | None = None,
    signature: str | None = None,
) -> Part:
    call: dict[str, Any] = {"name": name, "args": args or {}}
    if id is not None:
        call = {"id": id, **call}
    part: Part = {"functionCall": call}
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


# --- successful answers --------------------------------------------------------------------


def answer(*chunks: Part | Sequence[Part], **options: Unpack[AnswerOptions]) -> Answer:
    """The general form: each argument is one stream chunk (a part or a list of parts)."""
    shaped = tuple((c,) if isinstance(c, dict) else tuple(c) for c in chunks)
    return Answer(chunks=shaped, **options)


def split_words(value: str, pieces: int) -> list[str]:
    """`value` in `pieces` consecutive slices cut at spaces; joined they give `value` back."""
    words = value.split(" ")
    pieces = max(1, min(pieces, len(words)))
    size, extra = divmod(len(words), pieces)
    out, start = [], 0
    for i in range(pieces):
        end = start + size + (1 if i < extra else 0)
        out.append(" ".join(words[start:end]) + (" " if end < len(words) else ""))
        start = end
    return out


def text_answer(
    value: str | Sequence[str],
    *,
    chunks: int = 1,
    thinking: str | Sequence[str] | None = None,
    thinking_signature: str | None = None,
    signature: str | None = None,
    **options: Unpack[AnswerOptions],
) -> Answer:
    """Text in `chunks` chunks (or one chunk per string given), after optional thought chunks.

    `thinking_signature` goes on the last thought part, `signature` on the first text part.
    """
    thoughts = _pieces(thinking, 1) if thinking is not None else []
    texts = _pieces(value, chunks)
    parts: list[Part] = [thought(t) for t in thoughts]
    if parts and thinking_signature is not None:
        parts[-1]["thoughtSignature"] = thinking_signature
    parts += [text(t, signature=signature if i == 0 else None) for i, t in enumerate(texts)]
    return answer(*parts, **options)


def tool_call_answer(
    *calls: Part,
    preamble: str | None = None,
    thinking: str | None = None,
    signature: str | bool | None = True,
    one_chunk: bool = True,
    **options: Unpack[AnswerOptions],
) -> Answer:
    """Function calls (build them with `function_call`), finishReason STOP as Gemini sends.

    Gemini signs the first function call of a step only: `signature=True` makes one up,
    a string is used as is, None/False sends none. Parallel calls come in one chunk unless
    `one_chunk=False`.
    """
    if not calls:
        raise ValueError("tool_call_answer needs at least one function_call(...)")
    signed = [dict(c) for c in calls]
    if signature and "thoughtSignature" not in signed[0]:
        name = signed[0]["functionCall"]["name"]
        signed[0]["thoughtSignature"] = (
            signature if isinstance(signature, str) else fake_signature(f"call:{name}")
        )
    chunks: list[Part | Sequence[Part]] = []
    if thinking is not None:
        chunks.append(thought(thinking))
    if preamble is not None:
        chunks.append(text(preamble))
    if one_chunk:
        chunks.append(signed)
    else:
        chunks.extend(signed)
    return answer(*chunks, **options)


def grounded_answer(
    value: str | Sequence[str],
    *,
    queries: Sequence[str] = (),
    sources: Sequence[tuple[str, str]] = (),
    supports: Sequence[tuple[str, Sequence[int]]] = (),
    fetched: Sequence[str | tuple[str, str]] = (),
    chunks: int = 1,
    **options: Unpack[AnswerOptions],
) -> Answer:
    """Text grounded on Google Search (`queries`, `sources` as (uri, title)) and/or on URL
    context (`fetched`: URLs, or (URL, urlRetrievalStatus) pairs).

    Each support is (a span of the text, indexes into `sources`); its byte offsets are counted
    the way Gemini counts them, in UTF-8 from the start of the text.
    """
    answer = text_answer(value, chunks=chunks, **options)
    full = "".join(_pieces(value, chunks))
    search = grounding_metadata(full, queries=queries, sources=sources, supports=supports)
    fetch = url_context_metadata(*fetched) if fetched else None
    return replace(answer, grounding_metadata=search or None, url_context_metadata=fetch)


def grounding_metadata(
    text: str,
    *,
    queries: Sequence[str] = (),
    sources: Sequence[tuple[str, str]] = (),
    supports: Sequence[tuple[str, Sequence[int]]] = (),
) -> dict[str, Any]:
    """A candidate's groundingMetadata, with Gemini's field names (proto3 JSON: zeros left out)."""
    metadata: dict[str, Any] = {}
    if sources:
        metadata["groundingChunks"] = [{"web": {"uri": u, "title": t}} for u, t in sources]
    grounded = []
    for span, indices in supports:
        start = text.index(span)
        segment: dict[str, Any] = {
            "startIndex": len(text[:start].encode()),
            "endIndex": len(text[: start + len(span)].encode()),
            "text": span,
        }
        grounded.append(
            {
                "segment": {k: v for k, v in segment.items() if v != 0},
                "groundingChunkIndices": list(indices),
            }
        )
    if grounded:
        metadata["groundingSupports"] = grounded
    if queries:
        metadata["webSearchQueries"] = list(queries)
        metadata["searchEntryPoint"] = {
            "renderedContent": '<div class="container">'
            + "".join(
                f'<a class="chip" href="https://www.google.com/search?q={q}">{q}</a>'
                for q in queries
            )
            + "</div>"
        }
    return metadata


def url_context_metadata(*urls: str | tuple[str, str]) -> dict[str, Any]:
    pairs = [(u, "URL_RETRIEVAL_STATUS_SUCCESS") if isinstance(u, str) else u for u in urls]
    return {
        "urlMetadata": [{"retrievedUrl": u, "urlRetrievalStatus": status} for u, status in pairs]
    }


def max_tokens_answer(value: str, *, chunks: int = 1) -> Answer:
    return text_answer(value, chunks=chunks, finish_reason="MAX_TOKENS")


def safety_answer(
    partial: str = "", *, category: str = "HARM_CATEGORY_DANGEROUS_CONTENT"
) -> Answer:
    """finishReason SAFETY, with the ratings that say which category blocked it."""
    ratings = tuple(
        {"category": c, "probability": "HIGH", "blocked": True}
        if c == category
        else {"category": c, "probability": "NEGLIGIBLE"}
        for c in HARM_CATEGORIES
    )
    chunks: tuple[Chunk, ...] = ((text(partial),),) if partial else ()
    return Answer(chunks=chunks, finish_reason="SAFETY", safety_ratings=ratings)


def recitation_answer(partial: str = "") -> Answer:
    return answer(*([text(partial)] if partial else []), finish_reason="RECITATION")


def malformed_function_call_answer(
    call_text: str = "print(default_api.get_weather(city=Paris)",
) -> Answer:
    """No content, only the reason and what the model tried to write."""
    return Answer(
        finish_reason="MALFORMED_FUNCTION_CALL",
        finish_message=f"Malformed function call: {call_text}",
    )


def blocked_prompt(reason: str = "SAFETY") -> Answer:
    """The prompt itself was refused: promptFeedback and no candidates."""
    feedback: dict[str, Any] = {"blockReason": reason}
    if reason == "SAFETY":
        feedback["safetyRatings"] = [
            {"category": c, "probability": "HIGH" if i == 0 else "NEGLIGIBLE"}
            for i, c in enumerate(HARM_CATEGORIES)
        ]
    return Answer(finish_reason=None, prompt_feedback=feedback)


def mid_stream_error(
    after_chunks: int, *, code: int = 500, message: str = errors.INTERNAL_MESSAGE
) -> StreamError:
    return StreamError(after_chunks, errors.error_body(code, message))


# --- error and odd answers -----------------------------------------------------------------


def error_reply(
    code: int, message: str, *, status: str | None = None, details: Sequence[dict[str, Any]] = ()
) -> HttpReply:
    return HttpReply(
        code, errors.encode(errors.error_body(code, message, status=status, details=details))
    )


def rate_limited(*, retry_delay: str = "17s", model: str = "gemini-2.5-flash") -> HttpReply:
    return HttpReply(429, errors.encode(errors.rate_limited(model, retry_delay)))


def internal_error() -> HttpReply:
    return error_reply(500, errors.INTERNAL_MESSAGE)


def overloaded() -> HttpReply:
    return error_reply(503, errors.OVERLOADED_MESSAGE)


def invalid_argument(message: str = "Request contains an invalid argument.") -> HttpReply:
    return HttpReply(400, errors.encode(errors.invalid_argument(message)))


def model_not_found(model: str = "gemini-0-nonexistent") -> HttpReply:
    return HttpReply(404, errors.encode(errors.model_not_found(model)))


def bad_gateway_html() -> HttpReply:
    """What a load balancer in front of Gemini answers when the backend drops: HTML, not JSON."""
    page = (
        "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
        "  <title>Error 502 (Server Error)!!1</title>\n"
        "  <p><b>502.</b> <ins>That\u2019s an error.</ins>\n"
        "  <p>The server encountered a temporary error and could not complete your request."
        "<p>Please try again in 30 seconds.  <ins>That\u2019s all we know.</ins>\n"
    )
    return HttpReply(502, page.encode(), content_type="text/html; charset=UTF-8")


def invalid_json() -> HttpReply:
    """A 200 whose JSON body stops short."""
    return HttpReply(
        200, b'{\n  "candidates": [\n    {\n      "content": {\n        "parts": [{"te'
    )


def wrong_content_type() -> HttpReply:
    """A well-formed answer labelled text/html."""
    body = {
        "candidates": [
            {
                "content": {"parts": [{"text": "Hi"}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "modelVersion": "gemini-2.5-flash",
    }
    return HttpReply(200, json.dumps(body).encode(), content_type="text/html; charset=UTF-8")


def _pieces(value: str | Sequence[str], count: int) -> list[str]:
    return split_words(value, count) if isinstance(value, str) else list(value)
