"""Anthropic Messages request -> OpenAI Chat Completions request body (`POST /chat/completions`)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from ...anthropic.models import (
    Base64Source,
    ContentBlock,
    DocumentBlock,
    FileSource,
    ImageBlock,
    MessagesRequest,
    RedactedThinkingBlock,
    SearchResultBlock,
    ServerToolUseBlock,
    TextBlock,
    TextSource,
    ThinkingBlock,
    Tool,
    ToolChoice,
    ToolReferenceBlock,
    ToolResultBlock,
    ToolUseBlock,
    UrlSource,
    WebFetchToolResultBlock,
    WebSearchToolResultBlock,
)
from ...anthropic.surface import check_request_fields, refuse_block, refuse_tool
from ...errors import EMPTY_MESSAGES, InvalidRequest
from ..history import history_text
from ..tool_names import to_upstream_tool_name
from .call_ids import to_openai_call_id
from .limits import is_reasoning_model, max_output_tokens
from .reasoning import to_reasoning_effort
from .strict import satisfies_strict_rules, to_response_format

Message = dict[str, Any]
Part = dict[str, Any]

MAX_STOP_SEQUENCES = 4  # OpenAI rejects more than four
PROVIDER = "openai"


def to_openai_request(request: MessagesRequest, model: str) -> dict[str, Any]:
    # top_k is typed (Gemini takes it), so it is not among the extra fields: checked by name.
    check_request_fields({**request.extra_fields, "top_k": request.top_k}, PROVIDER)
    reasoning = is_reasoning_model(model)
    body: dict[str, Any] = {"model": model, "messages": _to_messages(request)}
    cap = max_output_tokens(model)
    body["max_completion_tokens"] = min(request.max_tokens, cap) if cap else request.max_tokens
    if request.stream:
        body["stream"] = True
        # Without this OpenAI streams no usage at all; with it, one last chunk carries it.
        body["stream_options"] = {"include_usage": True}
    if reasoning:
        # Reasoning models answer 400 to any temperature/top_p but the default: drop them.
        effort = to_reasoning_effort(request, model)
        if effort is not None:
            body["reasoning_effort"] = effort
    else:
        # Effort and thinking have no equivalent on a model that does not reason: Anthropic
        # documents effort as guidance on how much to spend, so it is advisory here.
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
    if request.stop_sequences:
        body["stop"] = _to_stop(request.stop_sequences, model, reasoning)
    if request.json_schema is not None:
        body["response_format"] = to_response_format(request.json_schema)
    if tools := request.declared_tools:
        body["tools"] = [_to_function_tool(tool) for tool in tools]
        if request.tool_choice is not None:
            body["tool_choice"] = _to_tool_choice(request.tool_choice)
            if request.tool_choice.disable_parallel_tool_use:
                body["parallel_tool_calls"] = False
    if request.metadata is not None and request.metadata.user_id:
        # OpenAI asks for a stable, hashed end-user id of at most 128 characters; Claude
        # Code's user_id is longer than that and carries account and session ids.
        body["safety_identifier"] = hashlib.sha256(request.metadata.user_id.encode()).hexdigest()
    return body


def _to_messages(request: MessagesRequest) -> list[Message]:
    messages: list[Message] = []
    system = _system_message(request.system_texts)
    if system is not None:
        messages.append(system)
    for message in request.messages:
        match message.role:
            case "system":
                # OpenAI takes system messages anywhere, so they keep their place.
                system = _system_message(message.texts)
                if system is not None:
                    messages.append(system)
            case "assistant":
                messages.extend(_assistant_messages(message.content))
            case "user":
                messages.extend(_user_messages(message.content))
    if all(m["role"] == "system" for m in messages):
        raise InvalidRequest(EMPTY_MESSAGES)
    return messages


def _system_message(texts: list[str]) -> Message | None:
    return {"role": "system", "content": _text_content(texts)} if texts else None


def _text_content(texts: list[str]) -> str | list[Part]:
    if len(texts) == 1:
        return texts[0]
    return [{"type": "text", "text": text} for text in texts]


def _assistant_messages(content: str | list[ContentBlock]) -> list[Message]:
    if isinstance(content, str):
        return [{"role": "assistant", "content": content}] if content.strip() else []
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in content:
        match block:
            case TextBlock():
                if block.text.strip():
                    texts.append(block.text)
            case (
                SearchResultBlock()
                | ServerToolUseBlock()
                | WebSearchToolResultBlock()
                | WebFetchToolResultBlock()
            ):
                # An Anthropic server tool's call and results: what the model already did.
                texts.append(history_text(block))
            case ToolUseBlock():
                calls.append(
                    {
                        "id": to_openai_call_id(block.id),
                        "type": "function",
                        "function": {
                            "name": to_upstream_tool_name(block.name),
                            "arguments": orjson.dumps(block.input).decode(),
                        },
                    }
                )
            case ThinkingBlock() | RedactedThinkingBlock():
                # Chat Completions has no way to take reasoning back (any provider's).
                continue
            case ImageBlock() | DocumentBlock() | ToolResultBlock():
                raise InvalidRequest(
                    f"an assistant message cannot hold a '{block.type}' block on OpenAI"
                )
            case _:
                raise refuse_block(block.type, PROVIDER)
    if not texts and not calls:
        return []
    message: Message = {"role": "assistant", "content": _text_content(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return [message]


def _user_messages(content: str | list[ContentBlock]) -> list[Message]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}] if content.strip() else []
    tool_messages: list[Message] = []
    attachments: list[Part] = []
    parts: list[Part] = []
    for block in content:
        match block:
            case TextBlock():
                if block.text.strip():
                    parts.append({"type": "text", "text": block.text})
            case (
                SearchResultBlock()
                | ServerToolUseBlock()
                | WebSearchToolResultBlock()
                | WebFetchToolResultBlock()
            ):
                parts.append({"type": "text", "text": history_text(block)})
            case ImageBlock() | DocumentBlock():
                parts.append(_media_part(block))
            case ToolResultBlock():
                message, media = _tool_message(block)
                tool_messages.append(message)
                attachments.extend(media)
            case ThinkingBlock() | RedactedThinkingBlock():
                continue
            case ToolUseBlock():
                raise InvalidRequest("a tool_use block belongs in an assistant message")
            case _:
                raise refuse_block(block.type, PROVIDER)
    # Tool messages must directly follow the assistant's tool_calls, so the media of tool
    # results (a tool message holds text only) and the user's own content come after them.
    rest = attachments + parts
    if not rest:
        return tool_messages
    if len(rest) == 1 and rest[0]["type"] == "text":
        return [*tool_messages, {"role": "user", "content": rest[0]["text"]}]
    return [*tool_messages, {"role": "user", "content": rest}]


def _tool_message(block: ToolResultBlock) -> tuple[Message, list[Part]]:
    """The tool message answering a call, and the media it carried for a later user message."""
    call_id = to_openai_call_id(block.tool_use_id)
    texts: list[str] = []
    media: list[Part] = []
    if isinstance(block.content, str):
        texts.append(block.content)
    else:
        for item in block.content:
            if isinstance(item, TextBlock):
                texts.append(item.text)
            elif isinstance(item, SearchResultBlock | ToolReferenceBlock):
                texts.append(history_text(item))
            elif isinstance(item, ImageBlock | DocumentBlock):
                media.append(_media_part(item))
            else:
                raise refuse_block(item.type, PROVIDER, "tool_result content")
    text = "\n".join(t for t in texts if t.strip())
    if media:
        # Tell the model which call the media in the next user message belong to.
        media.insert(0, {"type": "text", "text": f"Attachments from the result of {call_id}:"})
        text = text or "(the result's attachments follow in the next message)"
    if block.is_error:
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": call_id, "content": text}, media


def _media_part(block: ImageBlock | DocumentBlock) -> Part:
    if isinstance(block, ImageBlock):
        return _image_part(block)
    return _document_part(block)


def _image_part(block: ImageBlock) -> Part:
    source = block.source
    match source:
        case Base64Source():
            url = f"data:{source.media_type};base64,{source.data}"
            return {"type": "image_url", "image_url": {"url": url}}
        case UrlSource():
            return {"type": "image_url", "image_url": {"url": source.url}}
        case FileSource():
            raise InvalidRequest(
                "image source type 'file' (Anthropic Files API) is not available on OpenAI; "
                "send the image as base64 or a URL"
            )
        case _:
            raise InvalidRequest(f"image source type '{source.type}' is not supported on openai")


def _document_part(block: DocumentBlock) -> Part:
    source = block.source
    match source:
        case Base64Source():
            if source.media_type != "application/pdf":
                raise InvalidRequest(
                    f"document media_type '{source.media_type}' is not supported on OpenAI; "
                    "base64 documents must be application/pdf"
                )
            return {
                "type": "file",
                "file": {
                    "filename": block.title or "document.pdf",
                    "file_data": f"data:application/pdf;base64,{source.data}",
                },
            }
        case TextSource():
            text = f"{block.title}\n\n{source.data}" if block.title else source.data
            return {"type": "text", "text": text}
        case UrlSource():
            raise InvalidRequest(
                "document source type 'url' is not supported on OpenAI, which takes PDFs only "
                "as inline data; send the document as base64"
            )
        case FileSource():
            raise InvalidRequest(
                "document source type 'file' (Anthropic Files API) is not available on "
                "OpenAI; send the document as base64"
            )
        case _:
            raise InvalidRequest(f"document source type '{source.type}' is not supported on openai")


def _to_function_tool(tool: Tool) -> dict[str, Any]:
    if not tool.is_custom:
        # Web search and fetch included: Chat Completions searches only on its
        # search-preview models, which take no function tools at all.
        raise refuse_tool(tool.name, tool.type, PROVIDER)
    function: dict[str, Any] = {
        "name": to_upstream_tool_name(tool.name),
        "parameters": tool.input_schema,
    }
    if tool.description:
        function["description"] = tool.description
    if tool.strict and satisfies_strict_rules(tool.input_schema):
        # A schema outside OpenAI's strict rules would be a 400; see strict.py.
        function["strict"] = True
    return {"type": "function", "function": function}


def _to_tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    match choice.type:
        case "auto":
            return "auto"
        case "any":
            return "required"
        case "none":
            return "none"
        case "tool":
            assert choice.name is not None  # ToolChoice refuses a "tool" choice without one
            return {"type": "function", "function": {"name": to_upstream_tool_name(choice.name)}}


def _to_stop(stop_sequences: list[str], model: str, reasoning: bool) -> list[str]:
    if len(stop_sequences) > MAX_STOP_SEQUENCES:
        raise InvalidRequest(
            f"stop_sequences: OpenAI accepts at most {MAX_STOP_SEQUENCES}, "
            f"got {len(stop_sequences)}"
        )
    if reasoning:
        raise InvalidRequest(
            f"stop_sequences: OpenAI reasoning model '{model}' does not support stop sequences"
        )
    return stop_sequences
