"""previous_response_id in the Responses ingress (sans-IO): a kept History continues, and the
answered conversation is what a later request continues from."""

from __future__ import annotations

from typing import Any

import orjson
from ai_proxy.anthropic.models import MessagesRequest
from ai_proxy.ingress.base import IngressCall
from ai_proxy.ingress.openai_responses import OpenAIResponsesIngress
from ai_proxy.ingress.openai_responses.history import History

CALL = IngressCall(client_model="claude-sonnet-4-5", request_id="req2", created=1700000000)
INGRESS = OpenAIResponsesIngress()
EARLIER = History(
    system=[{"type": "text", "text": "Answer in French."}],
    messages=[
        {"role": "user", "content": "Hi"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Greet.", "signature": "SIG1"},
                {"type": "text", "text": "Bonjour."},
            ],
        },
    ],
)


def answer(*content: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_up",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": list(content),
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }


def test_the_earlier_conversation_comes_first_and_instructions_are_this_request_s() -> None:
    payload = {
        "model": "claude-sonnet-4-5",
        "previous_response_id": "resp_1",
        "instructions": "Be brief.",
        "input": "And then?",
    }
    request = INGRESS.conversation(payload, CALL, previous=EARLIER).messages_request
    MessagesRequest.model_validate(request)
    assert request["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},  # a string, as blocks
        EARLIER.messages[1],
        {"role": "user", "content": [{"type": "text", "text": "And then?"}]},
    ]
    # OpenAI carries system and developer items over, and never the earlier instructions.
    assert request["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Answer in French."},
    ]


def test_an_assistant_item_first_joins_the_earlier_answer_s_turn() -> None:
    payload = {
        "model": "m",
        "previous_response_id": "resp_1",
        "input": [
            {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "ok"},
        ],
    }
    messages = INGRESS.conversation(payload, CALL, previous=EARLIER).messages_request["messages"]
    assert [message["role"] for message in messages] == ["user", "assistant", "user"]
    assert [block["type"] for block in messages[1]["content"]] == ["thinking", "text", "tool_use"]
    assert EARLIER.messages[1]["content"][-1]["type"] == "text"  # the kept history unchanged


def test_the_continuation_is_the_conversation_and_its_answer() -> None:
    payload = {
        "model": "m",
        "previous_response_id": "resp_1",
        "input": [{"role": "developer", "content": "Use tu."}, {"role": "user", "content": "?"}],
    }
    conversation = INGRESS.conversation(payload, CALL, previous=EARLIER)
    assert conversation.continuation is None  # nothing answered yet
    body = orjson.loads(conversation.answer(answer({"type": "text", "text": "Rien."})))
    assert body["id"] == conversation.response_id == "resp_req2"
    assert body["previous_response_id"] == "resp_1"
    assert conversation.continuation == History(
        system=[*EARLIER.system, {"type": "text", "text": "Use tu."}],
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            EARLIER.messages[1],
            {"role": "user", "content": [{"type": "text", "text": "?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Rien."}]},
        ],
    )


def test_an_empty_answer_adds_no_turn() -> None:
    conversation = INGRESS.conversation({"model": "m", "input": "Hi"}, CALL)
    conversation.answer(answer())
    assert conversation.continuation == History([], [{"role": "user", "content": "Hi"}])


def test_store_false_keeps_nothing() -> None:
    conversation = INGRESS.conversation({"model": "m", "input": "Hi", "store": False}, CALL)
    conversation.answer(answer({"type": "text", "text": "Hello."}))
    assert conversation.store is False and conversation.continuation is None


def test_a_stream_s_continuation_is_there_once_its_message_stops() -> None:
    conversation = INGRESS.conversation({"model": "m", "input": "Hi", "stream": True}, CALL)
    stream = conversation.stream()
    start = {**answer(), "stop_reason": None}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Yo"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}},
    ]
    for event in events:
        stream.feed(event)
    assert conversation.continuation is None
    assert b"response.completed" in stream.feed({"type": "message_stop"})
    continuation = conversation.continuation
    assert continuation is not None
    assert continuation.messages[-1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Yo"}],
    }


def test_a_failed_stream_keeps_nothing() -> None:
    conversation = INGRESS.conversation({"model": "m", "input": "Hi", "stream": True}, CALL)
    stream = conversation.stream()
    stream.feed({"type": "message_start", "message": {**answer(), "stop_reason": None}})
    stream.feed({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    assert conversation.continuation is None
