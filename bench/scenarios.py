"""What is measured: scenarios (provider x body x mode x concurrency) and the requests each
target (direct upstream, gateway, baseline) is sent for them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bodies
import canned
import orjson

MODELS = {"gemini": "gemini-2.5-flash", "openai": "gpt-4.1-mini"}
# The key the gateway is configured with; the fake upstream accepts anything.
API_KEY = "bench-upstream-key"


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


def check_answer(stream: bool, status: int, body: bytes) -> str:
    """'ok', or what is wrong with an answer from the gateway (Anthropic format)."""
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    if not stream:
        message = orjson.loads(body)
        text = "".join(b.get("text", "") for b in message.get("content", []))
        if message.get("type") != "message" or text != canned.TEXT:
            return f"unexpected message: {body[:200]!r}"
        if message.get("usage", {}).get("output_tokens") != canned.OUTPUT_TOKENS:
            return f"unexpected usage: {message.get('usage')}"
        return "ok"
    events = _sse_events(body)
    names = [name for name, _ in events]
    if not names or names[0] != "message_start" or names[-1] != "message_stop":
        return f"unexpected event sequence: {names[:3]}...{names[-3:]}"
    text = "".join(
        data["delta"].get("text", "")
        for name, data in events
        if name == "content_block_delta" and data["delta"].get("type") == "text_delta"
    )
    if text != canned.TEXT:
        return f"streamed text differs: {text[:80]!r}"
    return "ok"


def _sse_events(body: bytes) -> list[tuple[str, Any]]:
    events = []
    for frame in body.replace(b"\r\n", b"\n").split(b"\n\n"):
        name, data = "message", b""
        for line in frame.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                data += line[5:].strip()
        if data:
            events.append((name, orjson.loads(data)))
    return events
