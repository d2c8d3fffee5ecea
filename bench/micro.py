"""Per-stage CPU cost of the translation path, in-process: `python bench/micro.py`.

The load test says how much a request costs end to end; this says where, without a network
or an event loop in the way: each stage of one request is timed over many repetitions (best of
5 runs, microseconds per call), for every provider and body. Use it to verify that a change to a
stage bought what the profile promised.
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import canned
import orjson
from scenarios import MODELS, anthropic_body, available_providers


def best_us(function: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


def stages(provider_name: str, body_name: str) -> dict[str, float]:
    from ai_proxy.anthropic.accumulate import accumulate
    from ai_proxy.anthropic.envelope import ClientRequest
    from ai_proxy.anthropic.models import MessagesRequest
    from ai_proxy.config import Config
    from ai_proxy.providers.base import RequestContext
    from ai_proxy.providers.registry import build_providers
    from ai_proxy.sse import SSEDecoder, encode_events

    provider = build_providers(Config().providers)[provider_name]
    model = MODELS[provider_name]
    json_body = anthropic_body(provider_name, body_name, False)
    stream_body = anthropic_body(provider_name, body_name, True)
    request = ClientRequest.from_body(json_body)
    request.messages()  # typed once, as the gateway does per request
    context = RequestContext(client_model=model, upstream_model=model, request_id="req_bench")
    upstream_json = canned.gemini_json() if provider_name == "gemini" else canned.openai_json()
    events = canned.gemini_sse_events() if provider_name == "gemini" else canned.openai_sse_events()
    stream = b"".join(events)
    number = 2000 if body_name == "small" else 200

    def translate_json() -> bytes:
        translator = provider.new_translator(context)
        return orjson.dumps(accumulate(translator.translate_body(upstream_json)))

    def translate_stream() -> bytes:
        translator = provider.new_translator(context)
        decoder = SSEDecoder()
        out = [encode_events(translator.feed(event)) for event in decoder.feed(stream)]
        out.append(encode_events(translator.finish()))
        return b"".join(out)

    return {
        "orjson.loads + model_validate": best_us(
            lambda: MessagesRequest.model_validate(orjson.loads(json_body)), number
        ),
        "model_validate_json": best_us(
            lambda: MessagesRequest.model_validate_json(stream_body), number
        ),
        "build_request (translate + dumps)": best_us(
            lambda: provider.build_request(request, context, "key"), number
        ),
        "response JSON -> Anthropic JSON": best_us(translate_json, 2000),
        "stream of 50 events -> Anthropic SSE": best_us(translate_stream, 500),
    }


def main() -> None:
    for provider in available_providers():
        for body in ("small", "agent"):
            print(f"\n{provider}/{body}")
            for stage, micros in stages(provider, body).items():
                print(f"  {stage:<40} {micros:8.1f} us")
            number = 2000 if body == "small" else 300
            for label, stream, per_event in (
                ("json", False, False),
                ("stream", True, False),
                ("stream, a read per event", True, True),
            ):
                micros = gateway_handle_us(
                    provider, body, stream, number // (5 if stream else 1), per_event
                )
                print(f"  {'Gateway.handle, ' + label:<40} {micros:8.1f} us")


class _FakeResponse:
    """An `ai_proxy.upstream.UpstreamResponse` served from memory."""

    def __init__(self, body: bytes, chunks: list[bytes] | None) -> None:
        self.status = 200
        kind = "text/event-stream" if chunks is not None else "application/json"
        self.headers = {"content-type": kind}
        self._body = body
        self._chunks = list(chunks or [])

    async def read(self) -> bytes:
        return self._body

    async def read_chunk(self) -> bytes:
        return self._chunks.pop(0) if self._chunks else b""

    async def close(self) -> None:
        pass


class _FakeClient:
    """An `ai_proxy.upstream.Upstream` with no socket, so only the gateway's own work is timed."""

    def __init__(
        self, name: str, json_body: bytes, events: list[bytes], per_event: bool = False
    ) -> None:
        self.name = name
        self._json = json_body
        # As the fake upstream sends them by default: the first event, then all the others at
        # once; or, as token streams arrive, one read per event (the per-read costs show).
        self._chunks = list(events) if per_event else [events[0], b"".join(events[1:])]

    async def post(self, request: Any) -> _FakeResponse:
        return _FakeResponse(self._json, self._chunks if request.stream else None)

    async def close(self) -> None:
        pass


def gateway_handle_us(
    provider_name: str, body_name: str, stream: bool, number: int, per_event: bool = False
) -> float:
    """`Gateway.handle` end to end (parse, route, translate, observe, log) with the upstream
    replaced by memory: microseconds per request, the body of a stream drained."""
    import asyncio
    import logging

    from ai_proxy.config import Config
    from ai_proxy.gateway import CoreRequest, Gateway

    logging.getLogger().setLevel(logging.WARNING)  # the access line is timed by the load test
    config = Config.model_validate(
        {
            "providers": {
                name: {"api_key": "key", "base_url": "http://127.0.0.1:9"}
                for name in ("gemini", "openai", "anthropic")
            },
            **({"auth": {"disabled": True}} if "auth" in Config.model_fields else {}),
        }
    )
    gateway = Gateway(config)
    if provider_name == "gemini":
        upstream = (canned.gemini_json(), canned.gemini_sse_events())
    else:
        upstream = (canned.openai_json(), canned.openai_sse_events())
    gateway.clients[provider_name] = _FakeClient(provider_name, *upstream, per_event)
    request = CoreRequest(
        method="POST",
        path="/v1/messages",
        headers={"content-type": "application/json", "anthropic-version": "2023-06-01"},
        body=anthropic_body(provider_name, body_name, stream),
    )

    async def run() -> float:
        best = float("inf")
        for _ in range(5):
            started = timeit.default_timer()
            for _ in range(number):
                response = await gateway.handle(request)
                assert response.status == 200, response.body
                if not isinstance(response.body, bytes):
                    async for _frame in response.body:
                        pass
            best = min(best, timeit.default_timer() - started)
        return best / number * 1e6

    return asyncio.run(run())


if __name__ == "__main__":
    main()
