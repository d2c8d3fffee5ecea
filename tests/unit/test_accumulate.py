from __future__ import annotations

from ai_proxy.anthropic.accumulate import accumulate
from ai_proxy.providers.blocks import MessageStream


def test_tool_input_cut_by_max_tokens_keeps_what_parses() -> None:
    """Regression: a tool call cut mid-JSON by max_tokens made the non-streaming path fail."""
    stream = MessageStream("msg_1", "m")
    events = stream.start({"input_tokens": 1, "output_tokens": 0})
    events += stream.tool_use("toolu_1", "Bash")
    events += stream.tool_input('{"command": "ls -la", "timeout": 12')
    events += stream.stop("max_tokens", {"output_tokens": 9})
    message = accumulate(events)
    assert message["content"][0]["input"] == {"command": "ls -la", "timeout": 12}
    assert message["stop_reason"] == "max_tokens" and message["usage"]["output_tokens"] == 9


def test_blocks_keep_consecutive_indexes_and_types() -> None:
    stream = MessageStream("msg_1", "m")
    events = stream.start({"input_tokens": 1, "output_tokens": 0})
    events += stream.thinking("hmm") + stream.signature("sig")
    events += stream.text("a") + stream.text("b")
    events += stream.tool_use("toolu_1", "Read") + stream.tool_input('{"path": "x"}')
    events += stream.stop("tool_use", {"output_tokens": 3})
    starts = [e["index"] for e in events if e["type"] == "content_block_start"]
    assert starts == [0, 1, 2]
    message = accumulate(events)
    assert message["content"] == [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "text", "text": "ab"},
        {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "x"}},
    ]
