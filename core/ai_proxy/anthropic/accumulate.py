"""Fold a sequence of Anthropic stream events into the non-streaming Message body."""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json

from ..errors import UpstreamError

Event = dict[str, Any]


def accumulate(events: list[Event]) -> dict[str, Any]:
    message: dict[str, Any] | None = None
    partial_json: dict[int, list[str]] = {}
    for event in events:
        kind = event["type"]
        if kind == "message_start":
            message = dict(event["message"])
            message["content"] = []
            message["usage"] = dict(event["message"]["usage"])
        elif message is None:
            raise UpstreamError("upstream answer produced content before the message started")
        elif kind == "content_block_start":
            message["content"].append(dict(event["content_block"]))
        elif kind == "content_block_delta":
            _apply_delta(message["content"][event["index"]], event, partial_json)
        elif kind == "content_block_stop":
            index = event["index"]
            if index in partial_json:
                message["content"][index]["input"] = _parse_input(partial_json.pop(index))
        elif kind == "message_delta":
            message.update(event["delta"])
            message["usage"].update(event["usage"])
    if message is None:
        raise UpstreamError("upstream answer was empty")
    return message


def _apply_delta(block: dict[str, Any], event: Event, partial_json: dict[int, list[str]]) -> None:
    delta = event["delta"]
    kind = delta["type"]
    if kind == "text_delta":
        block["text"] += delta["text"]
    elif kind == "thinking_delta":
        block["thinking"] += delta["thinking"]
    elif kind == "signature_delta":
        block["signature"] += delta["signature"]
    elif kind == "input_json_delta":
        partial_json.setdefault(event["index"], []).append(delta["partial_json"])
    elif kind == "citations_delta":
        # A text block without citations has none in Anthropic's answer, not an empty list.
        block.setdefault("citations", []).append(delta["citation"])


def _parse_input(fragments: list[str]) -> Any:
    """Tool input JSON; when max_tokens cut it short, whatever parses, as a streaming client
    would have it (the Anthropic SDK parses partial JSON the same way)."""
    try:
        return from_json("".join(fragments), allow_partial=True)
    except ValueError:
        return {}
