"""What the conformance suite asks of each provider: `ProviderHarness`.

A harness owns one fake upstream. It scripts it for provider-neutral scenarios (a text answer,
tool calls, thinking, a max_tokens cut, an error) and reads back what the gateway sent it, in
Anthropic's terms, so the test bodies never mention a wire format:

    scenario = harness.text("Hello there", chunks=3)   # the reply, and what the client must see
    harness.enqueue(scenario.reply)
    ...ask the gateway through the anthropic SDK...
    assert harness.sent_system(harness.requests[-1].json) == ["Be terse."]

What a provider genuinely cannot do is not skipped: its harness states the expectation
instead (`Scenario.content`, `Scenario.stop_sequence`, `reasoning_for`), each
with a comment saying why.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

# What the client sees, one entry per content block:
#   ("text", text) | ("thinking", thinking text) | ("tool_use", (name, input))
Block = tuple[str, Any]
Call = tuple[str, dict[str, Any]]
ErrorKind = Literal[
    "invalid_request",
    "context_too_long",
    "upstream_auth",
    "not_found",
    "rate_limited",
    "server_error",
    "overloaded",
]
ERROR_KINDS: tuple[ErrorKind, ...] = (
    "invalid_request",
    "context_too_long",
    "upstream_auth",
    "not_found",
    "rate_limited",
    "server_error",
    "overloaded",
)
# Anthropic's wording for a prompt over the context window ("prompt is too long: 215000
# tokens > 200000 maximum"): Claude Code looks for it to compact the conversation.
PROMPT_TOO_LONG = "prompt is too long"


@dataclass(frozen=True)
class Scenario:
    """A scripted upstream reply and the Anthropic message a client must get from it."""

    reply: object  # the fake's own reply type; hand it back to `enqueue`
    content: list[Block]
    stop_reason: str
    stop_sequence: str | None = None


@dataclass(frozen=True)
class ExpectedError:
    """A scripted upstream error and the Anthropic error a client must get from it."""

    reply: object
    status: int
    error_type: str
    retry_after: str | None = None
    message_contains: str = ""


@dataclass(frozen=True)
class Sent:
    """One request the fake received: its JSON body and whether it asked for a stream."""

    json: dict[str, Any]
    streaming: bool
    # The body without what only tells streaming from not (`stream`, `stream_options`):
    # the same client request must reach upstream the same either way.
    prompt: dict[str, Any] = field(compare=False)


@dataclass(frozen=True)
class SentResult:
    """A tool result as upstream received it. `call` is what ties it to its call: the id
    where the provider has ids, the function name where it matches results by name and order
    (`ProviderHarness.call_ref` says which)."""

    call: str
    content: str
    is_error: bool


class ProviderHarness(Protocol):
    provider: str  # the providers.<name> config section
    model: str  # what the cases ask for
    thinking_model: str  # what the thinking cases ask for
    # Upstream gets the client's own request, untranslated (the Anthropic pass-through).
    relays_request: bool

    # --- the fake ---------------------------------------------------------------------------

    @property
    def api_key(self) -> str:
        """The upstream secret (the key the fake accepts, or the credential the gateway signs
        with): never shown to a client."""
        ...

    def provider_table(self, base_url: str) -> dict[str, Any]:
        """The gateway's `providers.<provider>` table for the fake served at `base_url`."""
        ...

    def platform(self) -> AbstractContextManager[None]:
        """What the process must look like while the gateway starts (a cloud provider reads
        its platform's credentials from the environment then)."""
        ...

    def serve(self) -> AbstractContextManager[str]:
        """Run the fake; yield the base URL for providers.<name>.base_url."""
        ...

    def reset(self) -> None: ...

    def check_clean(self) -> None:
        """After each test: nothing we sent was refused by the fake's schema or rules, every
        scripted reply was used, no client key leaked."""
        ...

    def enqueue(self, *replies: object) -> None: ...

    @property
    def requests(self) -> list[Sent]: ...

    # --- scenarios --------------------------------------------------------------------------

    def text(self, text: str, chunks: int = 1) -> Scenario: ...

    def tool_calls(
        self,
        calls: Sequence[Call],
        *,
        preamble: str | None = None,
        thinking: str | None = None,
        forced: bool = False,
    ) -> Scenario:
        """`forced`: tool_choice named the tool (OpenAI then ends with "stop");
        `thinking`: the model reasoned first (Gemini then signs the first call)."""
        ...

    def thinking_then_text(self, thinking: str, text: str) -> Scenario: ...

    def max_tokens(self, text: str) -> Scenario: ...

    def stop_sequence(self, text: str, sequence: str) -> Scenario:
        """The model stopped because it produced `sequence`."""
        ...

    def error(self, kind: ErrorKind) -> ExpectedError: ...

    # --- what upstream received, in Anthropic's terms ----------------------------------------

    def sent_system(self, body: dict[str, Any]) -> list[str]: ...

    def sent_texts(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        """(role "user"/"assistant", text) for every visible text in the conversation."""
        ...

    def sent_images(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        """(media type, base64 data) for every inline image."""
        ...

    def sent_tools(self, body: dict[str, Any]) -> dict[str, tuple[str | None, dict[str, Any]]]:
        """name -> (description, JSON schema of the input)."""
        ...

    def sent_tool_choice(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Anthropic-shaped: {"type": "auto"|"any"|"none"} or {"type": "tool", "name": ...},
        with "disable_parallel_tool_use": True when upstream was told so."""
        ...

    def carried_tool_choice(self, choice: dict[str, Any]) -> dict[str, Any]:
        """The part of a client's tool_choice this provider can express."""
        ...

    def sent_stop_sequences(self, body: dict[str, Any]) -> list[str]: ...

    def sent_max_tokens(self, body: dict[str, Any]) -> int: ...

    def sent_reasoning(self, body: dict[str, Any]) -> object:
        """The provider's own thinking setting (a budget, an effort); None when off."""
        ...

    def reasoning_for(self, budget_tokens: int) -> object:
        """What `sent_reasoning` must be for thinking {"type": "enabled", budget_tokens}."""
        ...

    def sent_effort_rank(self, body: dict[str, Any]) -> int | None:
        """How hard upstream was asked to reason, as a rank that grows with the effort asked
        (a budget, an effort level's position); None when upstream got no such setting."""
        ...

    def shows_thinking(self, body: dict[str, Any]) -> bool:
        """Whether upstream was asked to return its reasoning to the client."""
        ...

    def sent_output_schema(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The JSON schema upstream was told the answer must match (structured outputs)."""
        ...

    def sent_tool_calls(self, body: dict[str, Any]) -> list[Call]:
        """The assistant's earlier tool calls, as the conversation sent them back."""
        ...

    def sent_tool_results(self, body: dict[str, Any]) -> list[SentResult]: ...

    def call_ref(self, tool_use_id: str, name: str) -> str:
        """What `SentResult.call` holds for the tool_use block with this id and name."""
        ...

    def sent_signatures(self, body: dict[str, Any]) -> list[str]:
        """Reasoning state handed back to upstream, as the client saw it (thinking-block
        signatures), in order."""
        ...

    def returned_signatures(self, issued: list[str]) -> list[str]:
        """What `sent_signatures` must be after the client sent back blocks signed `issued`."""
        ...


class KeyedUpstream:
    """For a harness whose fake takes the gateway's API key (`api_key`)."""

    api_key: str

    def provider_table(self, base_url: str) -> dict[str, Any]:
        return {"base_url": base_url, "api_key": self.api_key}

    def platform(self) -> AbstractContextManager[None]:
        return nullcontext()
