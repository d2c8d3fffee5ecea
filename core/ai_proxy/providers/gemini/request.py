"""Anthropic Messages request -> Gemini v1beta GenerateContentRequest (REST JSON)."""

from __future__ import annotations

import mimetypes
from typing import Any

from ...anthropic.models import (
    Base64Source,
    ContentBlock,
    CountTokensRequest,
    DocumentBlock,
    FileSource,
    ImageBlock,
    MessagesRequest,
    RedactedThinkingBlock,
    TextBlock,
    TextSource,
    ThinkingBlock,
    Tool,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
    UrlSource,
)
from ...anthropic.surface import refuse_block
from ...errors import InvalidRequest
from .signatures import from_our_signature

Part = dict[str, Any]
Content = dict[str, Any]

MAX_STOP_SEQUENCES = 5  # Gemini rejects more than five
# Thinking budgets for Anthropic's `output_config.effort` levels (Gemini caps them per model).
EFFORT_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576, "max": 32768}
FLASH_MAX_BUDGET = 24576
PRO_MAX_BUDGET = 32768


def to_gemini_request(request: MessagesRequest, model: str) -> dict[str, Any]:
    body = to_gemini_prompt(request)
    body["generationConfig"] = _to_generation_config(request, model)
    return body


def to_gemini_count_tokens_request(request: CountTokensRequest, model: str) -> dict[str, Any]:
    """countTokens counts a whole GenerateContentRequest, so system and tools are included
    (a bare `contents` would leave them out)."""
    return {"generateContentRequest": {"model": f"models/{model}", **to_gemini_prompt(request)}}


def to_gemini_prompt(request: MessagesRequest | CountTokensRequest) -> dict[str, Any]:
    """What the model reads: contents, system instruction, tools and tool config."""
    system_texts = _system_texts(request)
    tool_calls = _tool_calls_by_id(request)
    contents: list[Content] = []
    for message in request.messages:
        if message.role == "system":
            system_texts.extend(_plain_texts(message.content))
            continue
        role = "model" if message.role == "assistant" else "user"
        parts = _to_parts(message.content, tool_calls)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            # Gemini wants user/model turns to alternate: merge consecutive same-role turns.
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    if not contents:
        raise InvalidRequest("messages: all messages are empty; at least one needs content")

    body: dict[str, Any] = {"contents": contents}
    if system_texts:
        body["systemInstruction"] = {"parts": [{"text": t} for t in system_texts]}
    if tools := request.loaded_tools:
        body["tools"] = [{"functionDeclarations": [_to_function(t) for t in tools]}]
        if request.tool_choice is not None:
            body["toolConfig"] = {"functionCallingConfig": _to_calling_config(request.tool_choice)}
    return body


def _system_texts(request: MessagesRequest | CountTokensRequest) -> list[str]:
    if request.system is None:
        return []
    if isinstance(request.system, str):
        return [request.system] if request.system else []
    return [block.text for block in request.system if block.text]


def _plain_texts(content: str | list[ContentBlock]) -> list[str]:
    if isinstance(content, str):
        return [content] if content else []
    return [b.text for b in content if isinstance(b, TextBlock) and b.text]


def _tool_calls_by_id(request: MessagesRequest | CountTokensRequest) -> dict[str, tuple[int, str]]:
    """Every tool_use id in the conversation -> (its position in call order, tool name)."""
    calls = (
        block
        for message in request.messages
        if not isinstance(message.content, str)
        for block in message.content
        if isinstance(block, ToolUseBlock)
    )
    return {block.id: (position, block.name) for position, block in enumerate(calls)}


def _to_parts(
    content: str | list[ContentBlock], tool_calls: dict[str, tuple[int, str]]
) -> list[Part]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[Part] = []
    responses: list[tuple[int, list[Part]]] = []
    # A thought signature that Gemini attached to a non-thought part rides on an empty
    # thinking block just before that part's block; it is re-attached to the next part here.
    pending_signature: str | None = None
    for block in content:
        part: Part | None = None
        match block:
            case TextBlock():
                part = {"text": block.text} if block.text else None
            case ImageBlock() | DocumentBlock():
                parts.extend(_media_parts(block))
            case ThinkingBlock():
                signature = from_our_signature(block.signature)
                if signature is None:
                    continue  # another provider's reasoning: Gemini cannot verify it
                if block.thinking:
                    parts.append(
                        {"text": block.thinking, "thought": True, "thoughtSignature": signature}
                    )
                else:
                    pending_signature = signature
            case RedactedThinkingBlock():
                continue
            case ToolUseBlock():
                part = {"functionCall": {"name": block.name, "args": block.input}}
            case ToolResultBlock():
                responses.append(_function_response_parts(block, tool_calls))
            case _:
                raise refuse_block(block.type, "gemini")
        if part is not None:
            if pending_signature is not None:
                part["thoughtSignature"] = pending_signature
                pending_signature = None
            parts.append(part)
    if pending_signature is not None and parts and "thoughtSignature" not in parts[-1]:
        parts[-1]["thoughtSignature"] = pending_signature
    # Gemini matches responses to calls by position: they lead the turn, in call order.
    responses.sort(key=lambda item: item[0])
    return [part for _, group in responses for part in group] + parts


def _media_parts(block: ImageBlock | DocumentBlock) -> list[Part]:
    source = block.source
    match source:
        case Base64Source():
            return [{"inlineData": {"mimeType": source.media_type, "data": source.data}}]
        case UrlSource():
            default = "image/jpeg" if isinstance(block, ImageBlock) else "application/pdf"
            mime = mimetypes.guess_type(source.url.split("?", 1)[0])[0] or default
            return [{"fileData": {"mimeType": mime, "fileUri": source.url}}]
        case TextSource():
            title = block.title if isinstance(block, DocumentBlock) else None
            text = f"{title}\n\n{source.data}" if title else source.data
            return [{"text": text}] if text else []
        case FileSource():
            raise InvalidRequest(
                f"{block.type} source type 'file' (Anthropic Files API) is not available on "
                "Gemini; send the data as base64 or a URL"
            )
        case _:
            raise InvalidRequest(
                f"{block.type} source type '{source.type}' is not supported on gemini"
            )


def _function_response_parts(
    block: ToolResultBlock, tool_calls: dict[str, tuple[int, str]]
) -> tuple[int, list[Part]]:
    """The call's position in the conversation, and the parts answering it."""
    call = tool_calls.get(block.tool_use_id)
    if call is None:
        raise InvalidRequest(
            f"tool_result block references tool_use_id '{block.tool_use_id}', "
            "but no earlier tool_use block has that id"
        )
    position, name = call
    texts: list[str] = []
    media: list[Part] = []
    if isinstance(block.content, str):
        texts.append(block.content)
    else:
        for item in block.content:
            if isinstance(item, TextBlock):
                texts.append(item.text)
            elif isinstance(item, ImageBlock | DocumentBlock):
                # Images and documents in a tool result follow it as their own parts.
                media.extend(_media_parts(item))
            else:
                raise refuse_block(item.type, "gemini", "tool_result content")
    key = "error" if block.is_error else "output"
    response = {"functionResponse": {"name": name, "response": {key: "\n".join(texts)}}}
    return position, [response, *media]


def _to_function(tool: Tool) -> dict[str, Any]:
    if tool.type not in (None, "custom"):
        raise InvalidRequest(
            f"tools: '{tool.name}' is an Anthropic server tool (type '{tool.type}') "
            "that Gemini has no equivalent for"
        )
    # `$schema` is metadata, not a constraint; Gemini's schema parser does not take it.
    schema = {k: v for k, v in tool.input_schema.items() if k != "$schema"}
    declaration: dict[str, Any] = {"name": tool.name, "parametersJsonSchema": schema}
    if tool.description:
        declaration["description"] = tool.description
    return declaration


def _to_calling_config(choice: ToolChoice) -> dict[str, Any]:
    match choice.type:
        case "auto":
            return {"mode": "AUTO"}
        case "any":
            return {"mode": "ANY"}
        case "none":
            return {"mode": "NONE"}
        case "tool":
            if not choice.name:
                raise InvalidRequest("tool_choice.name: required when tool_choice.type is 'tool'")
            return {"mode": "ANY", "allowedFunctionNames": [choice.name]}


def _to_generation_config(request: MessagesRequest, model: str) -> dict[str, Any]:
    config: dict[str, Any] = {"maxOutputTokens": request.max_tokens}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.top_k is not None:
        config["topK"] = request.top_k
    if request.stop_sequences:
        if len(request.stop_sequences) > MAX_STOP_SEQUENCES:
            raise InvalidRequest(
                f"stop_sequences: Gemini accepts at most {MAX_STOP_SEQUENCES}, "
                f"got {len(request.stop_sequences)}"
            )
        config["stopSequences"] = request.stop_sequences
    thinking = _to_thinking_config(request, model)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    return config


def _to_thinking_config(request: MessagesRequest, model: str) -> dict[str, Any] | None:
    thinking = request.thinking
    effort = request.output_config.effort if request.output_config else None
    max_budget = PRO_MAX_BUDGET if "pro" in model else FLASH_MAX_BUDGET
    if thinking is None or thinking.type == "adaptive":
        if effort is not None:
            return {
                "thinkingBudget": min(EFFORT_BUDGETS[effort], max_budget),
                "includeThoughts": True,
            }
        if thinking is None:
            return None
        return {"thinkingBudget": -1, "includeThoughts": True}  # -1: Gemini's dynamic thinking
    if thinking.type == "disabled":
        # Pro models cannot turn thinking off (budget 0 is a 400); they just stop showing it.
        return {"includeThoughts": False} if "pro" in model else {"thinkingBudget": 0}
    budget = thinking.budget_tokens
    if budget is None:
        raise InvalidRequest("thinking.budget_tokens: required when thinking.type is 'enabled'")
    return {"thinkingBudget": min(budget, max_budget), "includeThoughts": True}
