"""The conformance harness for Anthropic, the pass-through, over tests.fakes.anthropic.

Nothing is translated on this path, so every scenario comes back as Anthropic wrote it; what
the harness checks is that the gateway forwards the client's request as-is and relays the
answer and the errors with their meaning (status, type, retry-after) intact.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tests.fakes.anthropic import (
    FakeAnthropic,
    MessageReply,
    api_error,
    authentication_error,
    error_reply,
    invalid_request,
    overloaded,
    rate_limited,
    sign,
    text_reply,
    thinking_reply,
)

from .harness import (
    PROMPT_TOO_LONG,
    Block,
    Call,
    ErrorKind,
    ExpectedError,
    KeyedUpstream,
    Scenario,
    Sent,
    SentResult,
)

EFFORTS = ("low", "medium", "high", "xhigh", "max")


class AnthropicHarness(KeyedUpstream):
    provider = "anthropic"
    # Not a name the anthropic SDK lists as deprecated (it warns, and warnings are errors
    # here), nor one it warns about for thinking {"type": "enabled"}.
    model = "claude-sonnet-4-6"
    thinking_model = "claude-sonnet-4-6"
    relays_request = True

    def __init__(self, client_keys: Sequence[str] = ()) -> None:
        self.fake = FakeAnthropic(client_keys=client_keys)
        self.api_key = self.fake.api_key

    @contextmanager
    def serve(self) -> Iterator[str]:
        with self.fake:
            yield self.fake.base_url

    def reset(self) -> None:
        self.fake.reset()

    def check_clean(self) -> None:
        assert self.fake.leaks == [], "a client key reached the upstream"
        # The fake refuses a bad request before it takes a scripted reply.
        assert self.fake.pending == 0, f"unused replies; last request: {self.fake.requests[-1:]}"

    def enqueue(self, *replies: object) -> None:
        self.fake.enqueue(*replies)  # type: ignore[arg-type]

    @property
    def requests(self) -> list[Sent]:
        return [
            Sent(
                r.json,
                r.json.get("stream") is True,
                prompt={k: v for k, v in r.json.items() if k != "stream"},
            )
            for r in self.fake.requests
            if r.json is not None
        ]

    # --- scenarios --------------------------------------------------------------------------

    def text(self, text: str, chunks: int = 1) -> Scenario:
        # The fake streams every text in two deltas; `chunks` has nothing to vary here.
        return Scenario(text_reply(text), [("text", text)], "end_turn")

    def tool_calls(
        self,
        calls: Sequence[Call],
        *,
        preamble: str | None = None,
        thinking: str | None = None,
        forced: bool = False,
    ) -> Scenario:
        blocks: list[dict[str, Any]] = []
        content: list[Block] = []
        if thinking is not None:
            blocks.append({"type": "thinking", "thinking": thinking, "signature": sign(thinking)})
            content.append(("thinking", thinking))
        if preamble is not None:
            blocks.append({"type": "text", "text": preamble})
            content.append(("text", preamble))
        for number, (name, args) in enumerate(calls, 1):
            tool_id = f"toolu_01Conformance{number:04d}"
            blocks.append({"type": "tool_use", "id": tool_id, "name": name, "input": args})
            content.append(("tool_use", (name, args)))
        return Scenario(MessageReply(tuple(blocks), stop_reason="tool_use"), content, "tool_use")

    def thinking_then_text(self, thinking: str, text: str) -> Scenario:
        reply = thinking_reply(thinking, text)
        return Scenario(reply, [("thinking", thinking), ("text", text)], "end_turn")

    def max_tokens(self, text: str) -> Scenario:
        return Scenario(text_reply(text, stop_reason="max_tokens"), [("text", text)], "max_tokens")

    def stop_sequence(self, text: str, sequence: str) -> Scenario:
        # The one provider that says which stop sequence matched.
        reply = text_reply(text, stop_reason="stop_sequence", stop_sequence=sequence)
        return Scenario(reply, [("text", text)], "stop_sequence", stop_sequence=sequence)

    def error(self, kind: ErrorKind) -> ExpectedError:
        # Anthropic's own error bodies: relayed with their status, 529 and all.
        match kind:
            case "invalid_request":
                reply = invalid_request("messages.0.content: String should have at most 9 chars")
                return ExpectedError(reply, 400, "invalid_request_error")
            case "context_too_long":
                reply = invalid_request("prompt is too long: 215000 tokens > 200000 maximum")
                return ExpectedError(
                    reply, 400, "invalid_request_error", message_contains=PROMPT_TOO_LONG
                )
            case "not_found":
                reply = error_reply(404, "not_found_error", f"model: {self.model}-1")
                return ExpectedError(reply, 404, "not_found_error")
            case "upstream_auth":
                return ExpectedError(authentication_error(), 401, "authentication_error")
            case "rate_limited":
                return ExpectedError(rate_limited("7"), 429, "rate_limit_error", retry_after="7")
            case "server_error":
                return ExpectedError(api_error(), 500, "api_error")
            case "overloaded":
                return ExpectedError(overloaded(), 529, "overloaded_error")

    # --- what the fake received (the client's own request, forwarded) ------------------------

    def sent_system(self, body: dict[str, Any]) -> list[str]:
        system = body.get("system")
        if system is None:
            return []
        return [system] if isinstance(system, str) else [block["text"] for block in system]

    def sent_texts(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        texts = []
        for message in body["messages"]:
            content = message["content"]
            if isinstance(content, str):
                texts.append((message["role"], content))
                continue
            texts += [(message["role"], b["text"]) for b in content if b["type"] == "text"]
        return texts

    def sent_images(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        return [
            (item["source"]["media_type"], item["source"]["data"])
            for item in _blocks(body, inside_results=True)
            if item["type"] == "image" and item["source"]["type"] == "base64"
        ]

    def sent_tools(self, body: dict[str, Any]) -> dict[str, tuple[str | None, dict[str, Any]]]:
        return {
            tool["name"]: (tool.get("description"), tool["input_schema"])
            for tool in body.get("tools", ())
        }

    def sent_tool_choice(self, body: dict[str, Any]) -> dict[str, Any] | None:
        choice = body.get("tool_choice")
        return None if choice is None else dict(choice)

    def carried_tool_choice(self, choice: dict[str, Any]) -> dict[str, Any]:
        return choice

    def sent_stop_sequences(self, body: dict[str, Any]) -> list[str]:
        return list(body.get("stop_sequences", []))

    def sent_max_tokens(self, body: dict[str, Any]) -> int:
        return int(body["max_tokens"])

    def sent_reasoning(self, body: dict[str, Any]) -> object:
        thinking = body.get("thinking")
        return None if thinking is None else thinking.get("budget_tokens", thinking["type"])

    def reasoning_for(self, budget_tokens: int) -> object:
        return budget_tokens

    def sent_effort_rank(self, body: dict[str, Any]) -> int | None:
        effort = (body.get("output_config") or {}).get("effort")
        return None if effort is None else EFFORTS.index(effort)

    def shows_thinking(self, body: dict[str, Any]) -> bool:
        thinking = body.get("thinking") or {}
        return thinking.get("type") in ("enabled", "adaptive") and thinking.get("display") != (
            "omitted"
        )

    def sent_output_schema(self, body: dict[str, Any]) -> dict[str, Any] | None:
        output_format = (body.get("output_config") or {}).get("format")
        return None if output_format is None else dict(output_format["schema"])

    def sent_tool_calls(self, body: dict[str, Any]) -> list[Call]:
        return [
            (block["name"], block["input"])
            for message in body["messages"]
            if message["role"] == "assistant"
            for block in _message_blocks(message)
            if block["type"] == "tool_use"
        ]

    def sent_tool_results(self, body: dict[str, Any]) -> list[SentResult]:
        results = []
        for block in _blocks(body):
            if block["type"] != "tool_result":
                continue
            content = block.get("content", "")
            if not isinstance(content, str):
                content = "\n".join(item["text"] for item in content if item["type"] == "text")
            results.append(SentResult(block["tool_use_id"], content, bool(block.get("is_error"))))
        return results

    def call_ref(self, tool_use_id: str, name: str) -> str:
        return tool_use_id

    def sent_signatures(self, body: dict[str, Any]) -> list[str]:
        return [block["signature"] for block in _blocks(body) if block["type"] == "thinking"]

    def returned_signatures(self, issued: list[str]) -> list[str]:
        return issued


def _message_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message["content"]
    return [] if isinstance(content, str) else list(content)


def _blocks(body: dict[str, Any], *, inside_results: bool = False) -> list[dict[str, Any]]:
    """Every content block; with `inside_results`, a tool_result's blocks stand in for it."""
    found: list[dict[str, Any]] = []
    for message in body["messages"]:
        for block in _message_blocks(message):
            inner = block.get("content") if block["type"] == "tool_result" else None
            found += inner if inside_results and isinstance(inner, list) else [block]
    return found
