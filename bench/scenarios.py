"""What is measured: scenarios (provider x body x mode x concurrency), the requests each
target (direct upstream, the gateway through each of its client doors, baseline) is sent for
them, and the check that each door answered right, so a broken path is never measured as fast."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bodies
import canned
import orjson

MODELS = {"gemini": "gemini-2.5-flash", "openai": "gpt-4.1-mini"}
# The key the gateway is configured with; the fake upstream accepts anything.
API_KEY = "bench-upstream-key"
# The key clients present (the benchmark's gateway runs with auth disabled when it can).
CLIENT_KEY = "bench-client-key"


@dataclass(frozen=True, slots=True)
class Scenario:
    provider: str
    body: str  # a bodies.BODIES name
    stream: bool
    concurrency: int

    @property
    def mode(self) -> str:
        return "stream" if self.stream else "json"

    @property
    def kind(self) -> tuple[str, str, bool]:
        """Scenarios differing only in concurrency send the same request."""
        return (self.provider, self.body, self.stream)

    def __str__(self) -> str:
        return f"{self.provider}/{self.body}/{self.mode}/c{self.concurrency}"


@dataclass(frozen=True, slots=True)
class Request:
    path: str
    headers: dict[str, str]
    body_file: Path

    def body(self) -> bytes:
        return self.body_file.read_bytes()


def available_providers() -> list[str]:
    """The translating providers this build of the gateway serves (OpenAI once it is written)."""
    from ai_proxy.config import Config
    from ai_proxy.providers.registry import build_providers

    built = build_providers(Config().providers)
    return [name for name in MODELS if name in built]


def anthropic_body(provider: str, body: str, stream: bool, model: str | None = None) -> bytes:
    return bodies.encode(body, model or MODELS[provider], stream)


def upstream_request(
    provider: str, body: str, stream: bool, base_url: str
) -> tuple[str, dict[str, str], bytes]:
    """What the gateway itself sends upstream for this request: (path, headers, body).

    Built with the gateway's own translation, so the direct baseline carries the same bytes."""
    from ai_proxy.anthropic.envelope import ClientRequest
    from ai_proxy.config import Config
    from ai_proxy.providers.base import RequestContext
    from ai_proxy.providers.registry import build_providers

    config = Config.model_validate({"providers": {provider: {"base_url": base_url}}})
    built = build_providers(config.providers)[provider]
    request = ClientRequest.from_body(anthropic_body(provider, body, stream))
    model = MODELS[provider]
    context = RequestContext(client_model=model, upstream_model=model, request_id="req_bench")
    upstream = built.build_request(request, context, API_KEY)
    root = base_url.split("/", 3)
    path = upstream.url[len(f"{root[0]}//{root[2]}") :]
    return path, dict(upstream.headers), upstream.body


@dataclass(frozen=True, slots=True)
class Ingress:
    """One client door of the gateway: how its clients write the benchmark's conversation, and
    how its answer is checked (`check_json` / `check_stream` read a 200's body)."""

    name: str
    to_body: Callable[[bodies.Body], bodies.Body]  # from the Anthropic request
    headers: dict[str, str]
    json_path: str  # `{model}` stands for the model
    stream_path: str
    check_json: Callable[[bytes], str]
    check_stream: Callable[[bytes], str]

    @property
    def target(self) -> str:
        """The target's name in the results: /v1/messages keeps the name it always had."""
        return "gateway" if self.name == "messages" else f"gateway:{self.name}"

    def request(self, provider: str, body: str, stream: bool) -> tuple[str, bytes]:
        """(path, body) of this scenario's request through this door."""
        model = MODELS[provider]
        path = (self.stream_path if stream else self.json_path).format(model=model)
        return path, orjson.dumps(self.to_body(bodies.BODIES[body](model, stream)))

    def check(self, stream: bool, status: int, body: bytes) -> str:
        """'ok', or what is wrong with the answer."""
        if status != 200:
            return f"HTTP {status}: {body[:200]!r}"
        try:
            return (self.check_stream if stream else self.check_json)(body)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
            return f"malformed answer ({type(error).__name__}: {error}): {body[:200]!r}"


def _verdict(text: str, output_tokens: Any) -> str:
    if text != canned.TEXT:
        return f"text differs: {text[:80]!r}"
    if output_tokens != canned.OUTPUT_TOKENS:
        return f"unexpected output token count: {output_tokens!r}"
    return "ok"


def _messages_json(body: bytes) -> str:
    message = orjson.loads(body)
    if message.get("type") != "message":
        return f"unexpected message: {body[:200]!r}"
    text = "".join(b.get("text", "") for b in message["content"])
    return _verdict(text, message["usage"]["output_tokens"])


def _messages_stream(body: bytes) -> str:
    events = [(name, orjson.loads(data)) for name, data in _sse_events(body)]
    names = [name for name, _ in events]
    if not names or names[0] != "message_start" or names[-1] != "message_stop":
        return f"unexpected event sequence: {names[:3]}...{names[-3:]}"
    text = "".join(
        data["delta"].get("text", "")
        for name, data in events
        if name == "content_block_delta" and data["delta"].get("type") == "text_delta"
    )
    usage = [data["usage"] for name, data in events if name == "message_delta"]
    return _verdict(text, usage[-1]["output_tokens"] if usage else None)


def _chat_json(body: bytes) -> str:
    completion = orjson.loads(body)
    if completion.get("object") != "chat.completion":
        return f"not a chat.completion: {body[:200]!r}"
    text = completion["choices"][0]["message"]["content"]
    return _verdict(text, completion["usage"]["completion_tokens"])


def _chat_stream(body: bytes) -> str:
    frames = [data for _, data in _sse_events(body)]
    if not frames or frames[-1] != b"[DONE]":
        return f"the stream does not end with [DONE]: {body[-200:]!r}"
    chunks = [orjson.loads(data) for data in frames[:-1]]
    if not chunks or any(chunk.get("object") != "chat.completion.chunk" for chunk in chunks):
        return f"not chat.completion.chunk frames: {body[:200]!r}"
    text = "".join(
        choice["delta"].get("content") or "" for chunk in chunks for choice in chunk["choices"]
    )
    # stream_options.include_usage: the last chunk before [DONE] carries the usage.
    return _verdict(text, (chunks[-1].get("usage") or {}).get("completion_tokens"))


def _response_text(response: Any) -> str:
    return "".join(
        part["text"]
        for item in response["output"]
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    )


def _responses_json(body: bytes) -> str:
    response = orjson.loads(body)
    if response.get("object") != "response" or response.get("status") != "completed":
        return f"not a completed response: {body[:200]!r}"
    return _verdict(_response_text(response), response["usage"]["output_tokens"])


def _responses_stream(body: bytes) -> str:
    events = [(name, orjson.loads(data)) for name, data in _sse_events(body)]
    names = [name for name, _ in events]
    if not names or names[0] != "response.created" or names[-1] != "response.completed":
        return f"unexpected event sequence: {names[:3]}...{names[-3:]}"
    text = "".join(d["delta"] for name, d in events if name == "response.output_text.delta")
    completed = events[-1][1]["response"]
    if _response_text(completed) != text:
        return "the deltas and response.completed's output differ"
    return _verdict(text, completed["usage"]["output_tokens"])


def _gemini_chunks(chunks: list[Any]) -> str:
    if not chunks or any(not chunk.get("candidates") for chunk in chunks):
        return f"a chunk without candidates: {chunks[:1]!r}"
    text = "".join(
        part.get("text", "")
        for chunk in chunks
        for part in chunk["candidates"][0]["content"]["parts"]
    )
    last = chunks[-1]
    if last["candidates"][0].get("finishReason") != "STOP":
        return f"the last chunk's finishReason: {last['candidates'][0].get('finishReason')!r}"
    return _verdict(text, last["usageMetadata"].get("candidatesTokenCount"))


def _gemini_json(body: bytes) -> str:
    return _gemini_chunks([orjson.loads(body)])


def _gemini_stream(body: bytes) -> str:
    return _gemini_chunks([orjson.loads(data) for _, data in _sse_events(body)])


INGRESSES = {
    ingress.name: ingress
    for ingress in (
        Ingress(
            "messages",
            lambda request: request,
            {"anthropic-version": "2023-06-01", "x-api-key": CLIENT_KEY},
            "/v1/messages",
            "/v1/messages",
            _messages_json,
            _messages_stream,
        ),
        Ingress(
            "chat",
            bodies.to_openai_chat,
            {"authorization": f"Bearer {CLIENT_KEY}"},
            "/v1/chat/completions",
            "/v1/chat/completions",
            _chat_json,
            _chat_stream,
        ),
        Ingress(
            "responses",
            bodies.to_openai_responses,
            {"authorization": f"Bearer {CLIENT_KEY}"},
            "/v1/responses",
            "/v1/responses",
            _responses_json,
            _responses_stream,
        ),
        Ingress(
            "gemini",
            bodies.to_gemini,
            {"x-goog-api-key": CLIENT_KEY},
            "/v1beta/models/{model}:generateContent",
            "/v1beta/models/{model}:streamGenerateContent?alt=sse",
            _gemini_json,
            _gemini_stream,
        ),
    )
}


def check_answer(stream: bool, status: int, body: bytes) -> str:
    """'ok', or what is wrong with an answer from /v1/messages."""
    return INGRESSES["messages"].check(stream, status, body)


def _sse_events(body: bytes) -> list[tuple[str, bytes]]:
    """(event name, data) of each SSE event; either line ending (Gemini's is CRLF)."""
    events = []
    for frame in body.replace(b"\r\n", b"\n").split(b"\n\n"):
        name, data = "message", b""
        for line in frame.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                data += line[5:].strip()
        if data:
            events.append((name, data))
    return events
