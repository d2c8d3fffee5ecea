"""A canned Gemini upstream for adapter tests: enough wire format to answer one request.

It records the API key each request carried, so a test can prove that the key the adapter read
from a secret store is the one that reached the provider. Streamed answers arrive in chunks
with a pause between them, so a test can tell a relayed stream from a buffered one.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import orjson

from tests.fakes.server import BackgroundServer

TEXT_CHUNKS = ("Hello", " from", " the stub")
# The gateway authenticates its clients: tests present this key (the event files carry it).
CLIENT_KEY = "client-token"
AUTH_ENV = {
    "AI_PROXY_AUTH__CLIENT_KEYS": orjson.dumps(
        [{"name": "adapter-tests", "sha256": hashlib.sha256(CLIENT_KEY.encode()).hexdigest()}]
    ).decode()
}
CLIENT_HEADERS = {"x-api-key": CLIENT_KEY}
CHUNK_PAUSE_SECONDS = 0.3


def _chunk(text: str, last: bool) -> bytes:
    candidate: dict[str, object] = {"content": {"parts": [{"text": text}], "role": "model"}}
    if last:
        candidate["finishReason"] = "STOP"
    payload = {
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 3, "totalTokenCount": 10},
        "modelVersion": "gemini-2.5-flash",
    }
    return b"data: " + orjson.dumps(payload) + b"\r\n\r\n"


class GeminiStub:
    """A plain ASGI app (served by uvicorn in a thread)."""

    def __init__(self) -> None:
        self.keys_seen: list[str] = []
        self.server = BackgroundServer(self, name="gemini-stub")

    @property
    def base_url(self) -> str:
        return self.server.base_url

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        headers = dict(scope["headers"])
        self.keys_seen.append(headers.get(b"x-goog-api-key", b"").decode())
        while (await receive()).get("more_body"):
            pass
        if scope["path"].endswith(":streamGenerateContent"):
            start = {"type": "http.response.start", "status": 200}
            await send({**start, "headers": [(b"content-type", b"text/event-stream")]})
            for index, text in enumerate(TEXT_CHUNKS):
                if index:
                    await asyncio.sleep(CHUNK_PAUSE_SECONDS)
                chunk = _chunk(text, last=index == len(TEXT_CHUNKS) - 1)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        body = _chunk("".join(TEXT_CHUNKS), last=True)[len(b"data: ") : -4]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def messages_body(stream: bool, model: str = "gemini-2.5-flash") -> bytes:
    return orjson.dumps(
        {
            "model": model,
            "max_tokens": 64,
            "stream": stream,
            "messages": [{"role": "user", "content": "Say hello"}],
        }
    )


def full_text(sse_body: bytes) -> str:
    """The text an Anthropic SSE body spells out, from its text_delta events."""
    text = ""
    for line in sse_body.decode().splitlines():
        if line.startswith("data: "):
            event = orjson.loads(line[len("data: ") :])
            if (
                event.get("type") == "content_block_delta"
                and event["delta"]["type"] == "text_delta"
            ):
                text += event["delta"]["text"]
    return text
