"""The Anthropic Messages request, validated once at the edge: it is also our internal model.

Unknown *fields* are accepted (clients such as Claude Code send newer beta fields we do not
know yet), but the shape of every field we translate is checked, and unknown content *block
types* are rejected so nothing a provider cannot see is dropped silently.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]


class _Model(BaseModel):
    # strict: "max_tokens": "100" or "stream": "yes" are 400s, as they are at Anthropic.
    model_config = ConfigDict(extra="allow", frozen=True, strict=True)


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


ImageSource = Annotated[Base64Source | UrlSource | FileSource, Field(discriminator="type")]
DocumentSource = Annotated[
    Base64Source | UrlSource | TextSource | FileSource, Field(discriminator="type")
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


ToolResultContent = Annotated[TextBlock | ImageBlock | DocumentBlock, Field(discriminator="type")]


class ToolResultBlock(_Model):
    type: Literal["tool_result"]
    tool_use_id: NonEmptyStr
    content: str | list[ToolResultContent] = ""
    is_error: bool = False


class ServerToolBlock(_Model):
    """Anthropic-hosted tool traffic (web search, code execution, ...): valid Anthropic input,
    which only the Anthropic provider can carry."""

    type: Literal[
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "mcp_tool_use",
        "mcp_tool_result",
        "container_upload",
        "search_result",
    ]


ContentBlock = Annotated[
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ThinkingBlock
    | RedactedThinkingBlock
    | ToolUseBlock
    | ToolResultBlock
    | ServerToolBlock,
    Field(discriminator="type"),
]


class Message(_Model):
    # "system" turns mid-conversation are a Claude Code beta; providers fold them into the
    # system instruction.
    role: Literal["user", "assistant", "system"]
    content: str | list[ContentBlock]


class Tool(_Model):
    name: NonEmptyStr
    description: str | None = None
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    # Anthropic server tools (e.g. web_search_20250305) carry a `type`; custom tools may too.
    type: str | None = None
    # Tool-search beta: not shown to the model until found (Claude Code sends a placeholder).
    defer_loading: bool = False


class ToolChoice(_Model):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool = False


class ThinkingConfig(_Model):
    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: int | None = Field(default=None, ge=0)


class OutputConfig(_Model):
    effort: Literal["low", "medium", "high", "max"] | None = None


class Metadata(_Model):
    user_id: str | None = None


class MessagesRequest(_Model):
    model: NonEmptyStr
    messages: Annotated[list[Message], Field(min_length=1)]
    max_tokens: Annotated[int, Field(ge=1)]
    system: str | list[TextBlock] | None = None
    stop_sequences: list[str] | None = None
    stream: bool = False
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: ThinkingConfig | None = None
    output_config: OutputConfig | None = None
    metadata: Metadata | None = None

    @property
    def loaded_tools(self) -> list[Tool]:
        """The tools a model may call now: deferred ones wait for Anthropic's tool search,
        which other providers do not have."""
        return [tool for tool in self.tools or () if not tool.defer_loading]


class CountTokensRequest(_Model):
    model: NonEmptyStr
    messages: Annotated[list[Message], Field(min_length=1)]
    system: str | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: ThinkingConfig | None = None

    @property
    def loaded_tools(self) -> list[Tool]:
        """As for MessagesRequest: a count covers what the model would be sent."""
        return [tool for tool in self.tools or () if not tool.defer_loading]
