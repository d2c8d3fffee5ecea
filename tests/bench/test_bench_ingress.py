"""The benchmark's client doors (bench/run.py --ingress), without a network.

Each format's body must say the very conversation of the Anthropic body it is derived from, as
the gateway's own ingress reads it; each format's check must pass the answer that ingress
writes and fail a broken one, so a broken path can never be measured as a fast one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bodies
import canned
from ai_proxy.ingress.base import Conversation, Ingress, IngressCall
from ai_proxy.ingress.gemini import GeminiIngress
from ai_proxy.ingress.openai_chat import OpenAIChatIngress
from ai_proxy.ingress.openai_responses import OpenAIResponsesIngress
from scenarios import INGRESSES, MODELS

GATEWAY_INGRESSES: dict[str, Ingress] = {
    "chat": OpenAIChatIngress(),
    "responses": OpenAIResponsesIngress(),
    "gemini": GeminiIngress(),
}
MODEL = MODELS["gemini"]
CALL = IngressCall(MODEL, "req_bench", 1750000000)
MESSAGE: dict[str, Any] = {
    "id": "msg_bench",
    "type": "message",
    "role": "assistant",
    "model": MODEL,
    "content": [{"type": "text", "text": canned.TEXT}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": canned.PROMPT_TOKENS, "output_tokens": canned.OUTPUT_TOKENS},
}


def _events(pieces: list[str]) -> list[dict[str, Any]]:
    """The Anthropic stream of an answer made of `pieces`, as the Messages path sends it."""
    start = {**MESSAGE, "content": [], "stop_reason": None, "usage": {"input_tokens": 1}}
    deltas = [{"type": "text_delta", "text": piece} for piece in pieces]
    return [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *({"type": "content_block_delta", "index": 0, "delta": delta} for delta in deltas),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": canned.OUTPUT_TOKENS},
        },
        {"type": "message_stop"},
    ]


def _transcript(request: dict[str, Any]) -> dict[str, Any]:
    """What a conversation says, whatever shape its blocks take: the system text, each turn's
    text, calls and results, the tools, the limits."""
    turns = []
    for message in request["messages"]:
        said: list[tuple[Any, ...]] = []
        for block in bodies._blocks(message):
            match block["type"]:
                case "text":
                    said.append(("text", block["text"]))
                case "tool_use":
                    said.append(("call", block["id"], block["name"], block["input"]))
                case "tool_result":
                    said.append(("result", block["tool_use_id"], bodies._result_text(block)))
        turns.append((message["role"], said))
    return {
        "system": "\n\n".join(bodies._system_texts(request)),
        "turns": turns,
        "tools": [
            (t["name"], t["description"], t["input_schema"]) for t in request.get("tools", [])
        ],
        "max_tokens": request["max_tokens"],
        "temperature": request.get("temperature"),
        "stream": request["stream"],
    }


def _conversation(name: str, body: str, stream: bool) -> Conversation:
    path, sent = INGRESSES[name].request("gemini", body, stream)
    if name == "gemini":  # the model and the method are in the path
        assert path.startswith(f"/v1beta/models/{MODEL}:")
        assert ("streamGenerateContent?alt=sse" in path) is stream
    return GATEWAY_INGRESSES[name].conversation(orjson.loads(sent), CALL, stream=stream)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("body", sorted(bodies.BODIES))
@pytest.mark.parametrize("name", sorted(GATEWAY_INGRESSES))
def test_each_format_says_the_same_conversation(name: str, body: str, stream: bool) -> None:
    read = _conversation(name, body, stream).messages_request
    assert _transcript(read) == _transcript(bodies.BODIES[body](MODEL, stream))


@pytest.mark.parametrize("name", sorted(GATEWAY_INGRESSES))
def test_each_check_passes_the_gateway_s_answer_and_fails_a_broken_one(name: str) -> None:
    ingress = INGRESSES[name]
    json_conversation = _conversation(name, "small", False)
    assert ingress.check(False, 200, json_conversation.answer(MESSAGE)) == "ok"
    cut = {**MESSAGE, "content": [{"type": "text", "text": canned.TEXT[:40]}]}
    assert ingress.check(False, 200, json_conversation.answer(cut)).startswith("text differs")

    stream = _conversation(name, "small", True).stream()
    frames = (
        b"".join(stream.feed(event) for event in _events(canned.GEMINI_PIECES)) + stream.finish()
    )
    assert ingress.check(True, 200, frames) == "ok"
    assert ingress.check(True, 200, frames[: len(frames) // 2]) != "ok"  # a cut stream
    short = _conversation(name, "small", True).stream()
    frames = (
        b"".join(short.feed(event) for event in _events(canned.GEMINI_PIECES[:1])) + short.finish()
    )
    assert ingress.check(True, 200, frames) != "ok"


def test_messages_check_reads_the_anthropic_answer() -> None:
    ingress = INGRESSES["messages"]
    assert ingress.check(False, 200, orjson.dumps(MESSAGE)) == "ok"
    stream = b"".join(
        f"event: {event['type']}\ndata: ".encode() + orjson.dumps(event) + b"\n\n"
        for event in _events(canned.GEMINI_PIECES)
    )
    assert ingress.check(True, 200, stream) == "ok"
    assert ingress.check(True, 200, stream[: len(stream) // 2]) != "ok"


@pytest.mark.parametrize("name", sorted(INGRESSES))
def test_a_refusal_or_a_missing_route_is_never_ok(name: str) -> None:
    assert INGRESSES[name].check(False, 404, b'{"error": "not found"}').startswith("HTTP 404")
    assert INGRESSES[name].check(True, 200, b"<html>oops</html>") != "ok"
    assert INGRESSES[name].check(False, 200, b"not json").startswith("malformed answer")
