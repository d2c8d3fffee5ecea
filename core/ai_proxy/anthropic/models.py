"""The Anthropic Messages request as translating providers read it: our internal model.

Open world. The model types what a translator reads (model, messages and their blocks, tools,
limits, thinking, output config) and keeps everything else as it came: an unknown top-level
field stays in `model_extra`, a block of a type we have never heard of parses as an
`UnknownBlock`, a tool of an unknown `type` as a `Tool` with that type. Nothing is refused
here for being new; each provider decides, by name, what it can carry (`surface.py` is the
list of every name and what each provider does with it). The Anthropic pass-through never
builds this model at all: it forwards the client's own bytes (`envelope.py`).

The shape of what *is* typed is checked strictly: `"max_tokens": "100"` is a 400, as it is at
Anthropic. So are the rules Anthropic enforces whatever the model (a budget with manual
thinking, a named tool choice, results after their calls, text-only system messages): they are
checked here, once, so every translating provider gives the same 400 in the same words. They
raise InvalidRequest itself, which pydantic lets through, so the client reads Anthropic's words
without a field path put in front of them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)

from ..errors import InvalidRequest, orphan_tool_result

NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, strict=True)


def _tagged(known: frozenset[str]) -> Any:
    """A discriminator that sends every `type` outside `known` to the `unknown` branch."""

    def tag(value: Any) -> str | None:
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        if not isinstance(kind, str):
            return None  # not a block at all: pydantic reports the missing tag
        return kind if kind in known else "unknown"

    return Discriminator(tag)


class Base64Source(_Model):
    type: Literal["base64"]
    media_type: NonEmptyStr
    data: str


class UrlSource(_Model):
    type: Literal["url"]
    url: NonEmptyStr


class TextSource(_Model):
    type: Literal["text"]
    media_type: str = "text/plain"
    data: str


class FileSource(_Model):
    type: Literal["file"]
    file_id: NonEmptyStr


class ContentSource(_Model):
    """A document made of blocks (`{"type": "content", "content": [...]}`)."""

    type: Literal["content"]
    content: str | list[TextBlock | ImageBlock]


class UnknownSource(_Model):
    type: str


ImageSource = Annotated[
    Annotated[Base64Source, Tag("base64")]
    | Annotated[UrlSource, Tag("url")]
    | Annotated[FileSource, Tag("file")]
    | Annotated[UnknownSource, Tag("unknown")],
    _tagged(frozenset({"base64", "url", "file"})),
]
DocumentSource = Annotated[
    Annotated[Base64Source, Tag("base64")]
    | Annotated[UrlSource, Tag("url")]
    | Annotated[TextSource, Tag("text")]
    | Annotated[FileSource, Tag("file")]
    | Annotated[ContentSource, Tag("content")]
    | Annotated[UnknownSource, Tag("unknown")],
    _tagged(frozenset({"base64", "url", "text", "file", "content"})),
]


class TextBlock(_Model):
    type: Literal["text"]
    text: str


class ImageBlock(_Model):
    type: Literal["image"]
    source: ImageSource


class DocumentBlock(_Model):
    type: Literal["document"]
    source: DocumentSource
    title: str | None = None
    context: str | None = None


class SearchResultBlock(_Model):
    """Search results a client's own tool found (RAG): text with a source and a title."""

    type: Literal["search_result"]
    source: str
    title: str
    content: list[TextBlock]


class ThinkingBlock(_Model):
    type: Literal["thinking"]
    thinking: str
    signature: str = ""


class RedactedThinkingBlock(_Model):
    type: Literal["redacted_thinking"]
    data: str


class ToolUseBlock(_Model):
    type: Literal["tool_use"]
    id: NonEmptyStr
    name: NonEmptyStr
    input: dict[str, Any]


class ToolReferenceBlock(_Model):
    """Tool search: names a deferred tool the model may now call (in a tool_result)."""

    type: Literal["tool_reference"]
    tool_name: NonEmptyStr


class UnknownBlock(_Model):
    """A block type this gateway does not model: kept whole, so a provider can name it."""

    type: str


ToolResultContent = Annotated[
    Annotated[TextBlock, Tag("text")]
    | Annotated[ImageBlock, Tag("image")]
    | Annotated[DocumentBlock, Tag("document")]
    | Annotated[SearchResultBlock, Tag("search_result")]
    | Annotated[ToolReferenceBlock, Tag("tool_reference")]
    | Annotated[UnknownBlock, Tag("unknown")],
    _tagged(frozenset({"text", "image", "document", "search_result", "tool_reference"})),
]


class ToolResultBlock(_Model):
    type: Literal["tool_result"]
    tool_use_id: NonEmptyStr
    content: str | list[ToolResultContent] = ""
    is_error: bool = False


class ServerToolUseBlock(_Model):
    """A call of an Anthropic-hosted tool (web search, web fetch, code execution, ...)."""

    type: Literal["server_tool_use"]
    id: NonEmptyStr
    name: NonEmptyStr
    input: dict[str, Any] = Field(default_factory=dict)


class WebSearchToolResultBlock(_Model):
    """What a web search found: a list of results, or an error object."""

    type: Literal["web_search_tool_result"]
    tool_use_id: NonEmptyStr
    content: list[dict[str, Any]] | dict[str, Any]


class WebFetchToolResultBlock(_Model):
    type: Literal["web_fetch_tool_result"]
    tool_use_id: NonEmptyStr
    content: dict[str, Any]


ContentBlock = Annotated[
    Annotated[TextBlock, Tag("text")]
    | Annotated[ImageBlock, Tag("image")]
    | Annotated[DocumentBlock, Tag("document")]
    | Annotated[SearchResultBlock, Tag("search_result")]
    | Annotated[ThinkingBlock, Tag("thinking")]
    | Annotated[RedactedThinkingBlock, Tag("redacted_thinking")]
    | Annotated[ToolUseBlock, Tag("tool_use")]
    | Annotated[ToolResultBlock, Tag("tool_result")]
    | Annotated[ServerToolUseBlock, Tag("server_tool_use")]
    | Annotated[WebSearchToolResultBlock, Tag("web_search_tool_result")]
    | Annotated[WebFetchToolResultBlock, Tag("web_fetch_tool_result")]
    | Annotated[UnknownBlock, Tag("unknown")],
    _tagged(
        frozenset(
            {
                "text",
                "image",
                "document",
                "search_result",
                "thinking",
                "redacted_thinking",
                "tool_use",
                "tool_result",
                "server_tool_use",
                "web_search_tool_result",
                "web_fetch_tool_result",
            }
        )
    ),
]


class Message(_Model):
    # "system" turns mid-conversation: Claude Code sends them; providers fold them into the
    # system instruction (or keep them in place where the upstream takes them anywhere).
    role: Literal["user", "assistant", "system"]
    content: str | list[ContentBlock]

    @property
    def texts(self) -> list[str]:
        """The texts of its text blocks, blank ones left out: all a system message holds."""
        if isinstance(self.content, str):
            return [self.content] if self.content.strip() else []
        return [b.text for b in self.content if isinstance(b, TextBlock) and b.text.strip()]


class Tool(_Model):
    """A client tool (`type` absent or "custom") or a server tool (`web_search_20250305`, ...).

    Server tools carry no input_schema; each provider maps the ones it has an equivalent for.
    """

    name: NonEmptyStr
    description: str | None = None
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    type: str | None = None
    # Tool search: not shown to the model until a tool_reference names it.
    defer_loading: bool = False
    # Structured outputs: the call's input must match input_schema exactly.
    strict: bool | None = None

    @property
    def is_custom(self) -> bool:
        return self.type in (None, "custom")

    @property
    def is_tool_search(self) -> bool:
        """`tool_search_tool_regex_20251119`, `tool_search_tool_bm25_...`: Anthropic's search."""
        return self.type is not None and self.type.startswith("tool_search_tool_")


class ToolChoice(_Model):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool = False

    @model_validator(mode="after")
    def _names_a_tool(self) -> Self:
        if self.type == "tool" and not self.name:
            raise InvalidRequest("tool_choice.name: required when tool_choice.type is 'tool'")
        return self


MIN_THINKING_BUDGET = 1024  # Anthropic's floor for manual thinking


class ThinkingConfig(_Model):
    type: Literal["enabled", "disabled", "adaptive", "between_tools"]
    budget_tokens: int | None = Field(default=None, ge=0)
    # "summarized" (default), "omitted" (thinking blocks keep only their signature), and
    # values newer than this gateway (Claude Code sends "updates"): all shown as summarized.
    display: str | None = None

    @model_validator(mode="after")
    def _budgeted(self) -> Self:
        # Anthropic's other rule, budget below max_tokens, does not hold with interleaved
        # thinking (a beta header the body cannot show): a larger budget stays a client's call.
        if self.type != "enabled":
            return self
        if self.budget_tokens is None:
            raise InvalidRequest("thinking.enabled.budget_tokens: Field required")
        if self.budget_tokens < MIN_THINKING_BUDGET:
            raise InvalidRequest(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to "
                f"{MIN_THINKING_BUDGET}"
            )
        return self


Effort = Literal["low", "medium", "high", "xhigh", "max"]


class JsonOutputFormat(_Model):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class OutputConfig(_Model):
    effort: Effort | None = None
    format: JsonOutputFormat | None = None


class Metadata(_Model):
    user_id: str | None = None


class _Prompt(_Model):
    """What a model reads: shared by a generation and a token count."""

    model: NonEmptyStr
    messages: Annotated[list[Message], Field(min_length=1)]
    system: str | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: ThinkingConfig | None = None
    output_config: OutputConfig | None = None
    # The structured-outputs beta's spelling of output_config.format.
    output_format: JsonOutputFormat | None = None

    @model_validator(mode="after")
    def _follows_the_api_rules(self) -> Self:
        choice = self.tool_choice
        named = choice.name if choice is not None and choice.type == "tool" else None
        if named is not None and named not in {tool.name for tool in self.tools or ()}:
            raise InvalidRequest(f"tool_choice.name: tool '{named}' is not among tools")
        _check_messages(self.messages)
        return self

    @property
    def system_texts(self) -> list[str]:
        """The system prompt's texts, blank ones left out."""
        if self.system is None:
            return []
        if isinstance(self.system, str):
            return [self.system] if self.system.strip() else []
        return [block.text for block in self.system if block.text.strip()]

    @property
    def referenced_tools(self) -> frozenset[str]:
        """Deferred tools the conversation has found through tool search (tool_reference)."""
        names: set[str] = set()
        for message in self.messages:
            if isinstance(message.content, str):
                continue
            for block in message.content:
                if isinstance(block, ToolResultBlock) and not isinstance(block.content, str):
                    names.update(
                        item.tool_name
                        for item in block.content
                        if isinstance(item, ToolReferenceBlock)
                    )
        return frozenset(names)

    @property
    def loaded_tools(self) -> list[Tool]:
        """The tools a model may call now. A deferred tool is loaded once a tool_reference in
        the conversation names it, which is what Anthropic's tool search does upstream."""
        tools = self.tools or []
        if not any(tool.defer_loading for tool in tools):
            return list(tools)
        found = self.referenced_tools
        return [tool for tool in tools if not tool.defer_loading or tool.name in found]

    @property
    def declared_tools(self) -> list[Tool]:
        """The tools a translating provider declares upstream. Anthropic's tool-search server
        tools search the deferred tools at Anthropic; an upstream has no such search, so it
        gets every deferred tool declared instead and the search tools themselves left out."""
        tools = self.tools or []
        if not any(tool.is_tool_search for tool in tools):
            return self.loaded_tools
        return [tool for tool in tools if not tool.is_tool_search]

    @property
    def effort(self) -> Effort | None:
        return self.output_config.effort if self.output_config else None

    @property
    def json_schema(self) -> dict[str, Any] | None:
        """The schema the answer's text must match (structured outputs), if any."""
        output = self.output_config.format if self.output_config else None
        output = output or self.output_format
        return output.schema_ if output else None

    @property
    def extra_fields(self) -> dict[str, Any]:
        """Top-level fields this model does not type, as the client sent them."""
        return self.model_extra or {}


def _check_messages(messages: list[Message]) -> None:
    """Results follow their calls; a system message holds text only (Anthropic types it as text
    blocks), so no provider drops an image there while another refuses it."""
    calls: set[str] = set()
    for index, message in enumerate(messages):
        content = message.content
        if isinstance(content, str):
            continue
        if message.role == "system":
            _check_system_message(index, content)
        for block in content:
            if type(block) is ToolUseBlock:
                calls.add(block.id)
            elif type(block) is ToolResultBlock and block.tool_use_id not in calls:
                raise orphan_tool_result(block.tool_use_id)


def _check_system_message(index: int, content: list[ContentBlock]) -> None:
    for position, block in enumerate(content):
        if not isinstance(block, TextBlock):
            raise InvalidRequest(
                f"messages.{index}.content.{position}.type: Input should be 'text' "
                f"(a system message holds text blocks only, not '{block.type}')"
            )


class MessagesRequest(_Prompt):
    max_tokens: Annotated[int, Field(ge=1)]
    stop_sequences: list[str] | None = None
    stream: bool = False
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    metadata: Metadata | None = None


class CountTokensRequest(_Prompt):
    pass
