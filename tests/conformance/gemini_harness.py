"""The conformance harness for Gemini (generativelanguage v1beta), over tests.fakes.gemini."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tests.fakes import gemini_errors
from tests.fakes.gemini import (
    FakeGemini,
    HttpReply,
    error_reply,
    fake_signature,
    function_call,
    internal_error,
    invalid_argument,
    max_tokens_answer,
    model_not_found,
    overloaded,
    rate_limited,
    text_answer,
    tool_call_answer,
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

# How the gateway namespaces Gemini's thought signatures: provider, then issuing model family.
SIGNATURE_PREFIX = "gemini:gemini-2.5-flash:"
_CHOICES = {"AUTO": "auto", "ANY": "any", "NONE": "none"}


class GeminiHarness(KeyedUpstream):
    provider = "gemini"
    model = "gemini-2.5-flash"
    thinking_model = "gemini-2.5-flash"
    relays_request = False

    def __init__(self) -> None:
        self.fake = FakeGemini()
        self.api_key = self.fake.api_key

    @contextmanager
    def serve(self) -> Iterator[str]:
        with self.fake:
            yield self.fake.base_url

    def reset(self) -> None:
        self.fake.reset()

    def check_clean(self) -> None:
        # The fake refuses a bad request before it takes a scripted reply.
        assert self.fake.pending == 0, f"unused replies; last request: {self.fake.requests[-1:]}"

    def enqueue(self, *replies: object) -> None:
        self.fake.enqueue(*replies)  # type: ignore[arg-type]

    @property
    def requests(self) -> list[Sent]:
        return [Sent(r.json, r.streaming, prompt=r.json) for r in self.fake.requests]

    # --- scenarios --------------------------------------------------------------------------

    def text(self, text: str, chunks: int = 1) -> Scenario:
        return Scenario(text_answer(text, chunks=chunks), [("text", text)], "end_turn")

    def tool_calls(
        self,
        calls: Sequence[Call],
        *,
        preamble: str | None = None,
        thinking: str | None = None,
        forced: bool = False,
    ) -> Scenario:
        # Gemini finishes a tool-calling turn with STOP whether or not the call was forced, and
        # signs the first call of a step when the model thought. That signature reaches the
        # client on an empty thinking block of its own, just before the call it belongs to.
        reply = tool_call_answer(
            *(function_call(name, args) for name, args in calls),
            preamble=preamble,
            thinking=thinking,
            signature=thinking is not None,
        )
        content: list[Block] = []
        if thinking is not None:
            content.append(("thinking", thinking))
        if preamble is not None:
            content.append(("text", preamble))
        if thinking is not None:
            content.append(("thinking", ""))
        content += [("tool_use", call) for call in calls]
        return Scenario(reply, content, "tool_use")

    def thinking_then_text(self, thinking: str, text: str) -> Scenario:
        reply = text_answer(
            text, thinking=thinking, thinking_signature=fake_signature(thinking[:12])
        )
        return Scenario(reply, [("thinking", thinking), ("text", text)], "end_turn")

    def max_tokens(self, text: str) -> Scenario:
        return Scenario(max_tokens_answer(text, chunks=2), [("text", text)], "max_tokens")

    def stop_sequence(self, text: str, sequence: str) -> Scenario:
        # Gemini ends on a stop sequence with plain STOP and never says which one matched, so
        # the client gets end_turn and no stop_sequence: there is nothing to translate from.
        return Scenario(text_answer(text), [("text", text)], "end_turn", stop_sequence=None)

    def error(self, kind: ErrorKind) -> ExpectedError:
        match kind:
            case "invalid_request":
                return ExpectedError(invalid_argument(), 400, "invalid_request_error")
            case "context_too_long":
                reply = error_reply(
                    400,
                    "The input token count (1196265) exceeds the maximum number of tokens "
                    "allowed (1048576).",
                )
                return ExpectedError(
                    reply,
                    400,
                    "invalid_request_error",
                    message_contains=PROMPT_TOO_LONG,
                )
            case "not_found":
                return ExpectedError(model_not_found(self.model), 404, "not_found_error")
            case "upstream_auth":
                # Google answers a wrong key with 400 API_KEY_INVALID, not 401.
                bad_key = gemini_errors.encode(gemini_errors.api_key_invalid())
                return ExpectedError(HttpReply(400, bad_key), 401, "authentication_error")
            case "rate_limited":
                # The back-off is a google.rpc.RetryInfo detail ("17s"), not a header.
                reply = rate_limited(retry_delay="17s", model=self.model)
                return ExpectedError(reply, 429, "rate_limit_error", retry_after="17")
            case "server_error":
                return ExpectedError(internal_error(), 500, "api_error")
            case "overloaded":
                # Gemini says 503 UNAVAILABLE "The model is overloaded".
                return ExpectedError(overloaded(), 529, "overloaded_error")

    # --- what the fake received -------------------------------------------------------------

    def sent_system(self, body: dict[str, Any]) -> list[str]:
        instruction = body.get("systemInstruction") or {"parts": []}
        return [part["text"] for part in instruction["parts"]]

    def sent_texts(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        return [
            ("assistant" if content["role"] == "model" else "user", part["text"])
            for content in body["contents"]
            for part in content["parts"]
            if "text" in part and not part.get("thought")
        ]

    def sent_images(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        return [
            (part["inlineData"]["mimeType"], part["inlineData"]["data"])
            for content in body["contents"]
            for part in content["parts"]
            if "inlineData" in part
        ]

    def sent_tools(self, body: dict[str, Any]) -> dict[str, tuple[str | None, dict[str, Any]]]:
        return {
            declaration["name"]: (
                declaration.get("description"),
                declaration["parametersJsonSchema"],
            )
            for tool in body.get("tools", ())
            for declaration in tool["functionDeclarations"]
        }

    def sent_tool_choice(self, body: dict[str, Any]) -> dict[str, Any] | None:
        config = body.get("toolConfig", {}).get("functionCallingConfig")
        if config is None:
            return None
        names = config.get("allowedFunctionNames")
        if names is not None:
            # Anthropic's {"type": "tool"} is Gemini's ANY restricted to that one function.
            assert config["mode"] == "ANY" and len(names) == 1, config
            return {"type": "tool", "name": names[0]}
        assert set(config) == {"mode"}, config
        return {"type": _CHOICES[config["mode"]]}

    def carried_tool_choice(self, choice: dict[str, Any]) -> dict[str, Any]:
        # Gemini has no switch for parallel function calls: disable_parallel_tool_use is lost.
        return {k: v for k, v in choice.items() if k != "disable_parallel_tool_use"}

    def sent_stop_sequences(self, body: dict[str, Any]) -> list[str]:
        return list(body["generationConfig"].get("stopSequences", []))

    def sent_max_tokens(self, body: dict[str, Any]) -> int:
        return int(body["generationConfig"]["maxOutputTokens"])

    def sent_reasoning(self, body: dict[str, Any]) -> object:
        config = body["generationConfig"].get("thinkingConfig")
        if config is None:
            return None
        # Without includeThoughts, Gemini thinks but shows the client nothing.
        assert config.get("includeThoughts") is True, config
        return config["thinkingBudget"]

    def reasoning_for(self, budget_tokens: int) -> object:
        return budget_tokens  # within gemini-2.5-flash's 24576 cap, as asked

    def sent_effort_rank(self, body: dict[str, Any]) -> int | None:
        config = body["generationConfig"].get("thinkingConfig")
        return None if config is None else int(config["thinkingBudget"])

    def shows_thinking(self, body: dict[str, Any]) -> bool:
        config = body["generationConfig"].get("thinkingConfig") or {}
        return config.get("includeThoughts") is True

    def sent_output_schema(self, body: dict[str, Any]) -> dict[str, Any] | None:
        config = body["generationConfig"]
        if "responseJsonSchema" not in config:
            return None
        assert config["responseMimeType"] == "application/json", config
        schema: dict[str, Any] = config["responseJsonSchema"]
        return schema

    def sent_tool_calls(self, body: dict[str, Any]) -> list[Call]:
        return [
            (part["functionCall"]["name"], part["functionCall"]["args"])
            for content in body["contents"]
            if content["role"] == "model"
            for part in content["parts"]
            if "functionCall" in part
        ]

    def sent_tool_results(self, body: dict[str, Any]) -> list[SentResult]:
        results = []
        for content in body["contents"]:
            for part in content["parts"]:
                if "functionResponse" not in part:
                    continue
                response = part["functionResponse"]["response"]
                is_error = "error" in response
                text = response["error" if is_error else "output"]
                results.append(SentResult(part["functionResponse"]["name"], text, is_error))
        return results

    def call_ref(self, tool_use_id: str, name: str) -> str:
        # Gemini 2.5 matches function responses to calls by name and position, not by id.
        return name

    def sent_signatures(self, body: dict[str, Any]) -> list[str]:
        return [
            SIGNATURE_PREFIX + part["thoughtSignature"]
            for content in body["contents"]
            for part in content["parts"]
            if "thoughtSignature" in part
        ]

    def returned_signatures(self, issued: list[str]) -> list[str]:
        return issued
