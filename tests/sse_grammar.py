"""A strict checker for the Anthropic Messages SSE grammar, applied to raw bytes on the wire."""

from __future__ import annotations

import json
from typing import Any

BLOCK_DELTAS = {
    "text": {"text_delta", "citations_delta"},
    "thinking": {"thinking_delta", "signature_delta"},
    "tool_use": {"input_json_delta"},
    "server_tool_use": {"input_json_delta"},
    # A server tool's result arrives whole in its content_block_start.
    "web_search_tool_result": set(),
    "web_fetch_tool_result": set(),
}


def parse_frames(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """Split a raw stream into (event name, data) pairs; every frame must be well formed."""
    text = raw.decode("utf-8")
    assert text.endswith("\n\n"), "stream must end with a complete frame"
    frames = []
    for chunk in text.split("\n\n")[:-1]:
        lines = chunk.split("\n")
        assert len(lines) == 2, f"frame must be one event line and one data line: {chunk!r}"
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), chunk
        name, data = lines[0][7:], json.loads(lines[1][6:])
        assert data["type"] == name, f"event name {name} != data type {data['type']}"
        frames.append((name, data))
    return frames


def check_stream(raw: bytes) -> list[dict[str, Any]]:
    """Assert the grammar: message_start, well-nested consecutive blocks, message_delta,
    message_stop (or an error frame as the last event). Returns the events without pings."""
    events = [data for name, data in parse_frames(raw) if name != "ping"]
    assert events, "empty stream"
    if events[-1]["type"] == "error":
        body = events[-1]
        assert set(body) == {"type", "error"} and {"type", "message"} <= set(body["error"])
        return events
    assert events[0]["type"] == "message_start"
    assert events[-2]["type"] == "message_delta" and events[-1]["type"] == "message_stop"
    open_block: tuple[int, str] | None = None
    next_index = 0
    for event in events[1:-2]:
        kind = event["type"]
        if kind == "content_block_start":
            assert open_block is None, "a block opened before the previous one stopped"
            assert event["index"] == next_index, "block indexes must be consecutive from 0"
            open_block = (event["index"], event["content_block"]["type"])
            next_index += 1
        elif kind == "content_block_delta":
            assert open_block is not None and event["index"] == open_block[0]
            assert event["delta"]["type"] in BLOCK_DELTAS[open_block[1]]
        elif kind == "content_block_stop":
            assert open_block is not None and event["index"] == open_block[0]
            open_block = None
        else:
            raise AssertionError(f"unexpected event between blocks: {kind}")
    assert open_block is None, "a block was never stopped"
    return events
