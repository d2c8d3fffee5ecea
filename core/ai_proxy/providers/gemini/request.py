"""Anthropic Messages request -> Gemini v1beta GenerateContentRequest (REST JSON)."""

from __future__ import annotations

import mimetypes
from typing import Any

from ...anthropic.models import (
    Base64Source,
    ContentBlock,
    ContentSource,
    CountTokensRequest,
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
from .capabilities import GeminiModel, capabilities
from .grounding import is_web_tool, to_gemini_web_tools
from .signatures import BYPASS_SIGNATURE, from_our_signature

Part = dict[str, Any]
Content = dict[str, Any]
Prompt = MessagesRequest | CountTokensRequest

MAX_STOP_SEQUENCES = 5  # Gemini rejects more than five
# Thinking budgets for Anthropic's `output_config.effort` levels, clamped to the model's range;
# None is the model's own ceiling.
EFFORT_BUDGETS: dict[str, int | None] = {
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": None,
}
DYNAMIC_BUDGET = -1  # Gemini decides how long to think
# Some clients label JPEGs with this non-standard type, which Gemini refuses.
_MIME_ALIASES = {"image/jpg": "image/jpeg"}


def to_gemini_request(request: MessagesRequest, model: str) -> dict[str, Any]:
    body = to_gemini_prompt(request, model)
    body["generationConfig"] = _to_generation_config(request, model, bool(body.get("tools")))
    return body


def to_gemini_count_tokens_request(request: CountTokensRequest, model: str) -> dict[str, Any]:
    """countTokens counts a whole GenerateContentRequest, so system and tools are included
    (a bare `contents` would leave them out)."""
    return {
        "generateContentRequest": {"model": f"models/{model}", **to_gemini_prompt(request, model)}
    }


def to_gemini_prompt(request: Prompt, model: str) -> dict[str, Any]:
    """What the model reads: contents, system instruction, tools and tool config."""
    check_request_fields(request.extra_fields, "gemini")
    caps = capabilities(model)
    system_texts = request.system_texts
    tool_calls = _tool_calls_by_id(request)
    contents: list[Content] = []
    for message in request.messages:
        if message.role == "system":
            system_texts.extend(message.texts)
            continue
        role = "model" if message.role == "assistant" else "user"
        parts = _to_parts(message.content, tool_calls, model, caps)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            # Gemini wants user/model turns to alternate: merge consecutive same-role turns.
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    if not contents:
        raise InvalidRequest(EMPTY_MESSAGES)
    if caps.requires_call_signatures:
        _sign_current_turn(contents)

    body: dict[str, Any] = {"contents": contents}
    if system_texts:
        body["systemInstruction"] = {"parts": [{"text": t} for t in system_texts]}
    if tools := _to_tools(request, model):
        body["tools"] = tools
        # Only function calling is configured: Gemini decides itself when to ground.
        if request.tool_choice is not None and "functionDeclarations" in tools[0]:
            body["toolConfig"] = {"functionCallingConfig": _to_calling_config(request.tool_choice)}
    return body


def _tool_calls_by_id(request: Prompt) -> dict[str, tuple[int, str]]:
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
    content: str | list[ContentBlock],
    tool_calls: dict[str, tuple[int, str]],
    model: str,
    caps: GeminiModel,
) -> list[Part]:
    if isinstance(content, str):
        return [{"text": content}] if content.strip() else []
    parts: list[Part] = []
    responses: list[tuple[int, list[Part]]] = []
    # A thought signature that Gemini attached to a non-thought part rides on an empty
    # thinking block just before that part's block; it is re-attached to the next part here.
    pending_signature: str | None = None
    for block in content:
        part: Part | None = None
        match block:
            case TextBlock():
                part = {"text": block.text} if block.text.strip() else None
            case ImageBlock() | DocumentBlock():
                parts.extend(_media_parts(block, caps))
            case ThinkingBlock():
                # Another provider's reasoning, or another Gemini model's: it cannot verify.
                signature = from_our_signature(block.signature, model)
                if signature is None:
                    continue
                if block.thinking:
                    parts.append(
                        {"text": block.thinking, "thought": True, "thoughtSignature": signature}
                    )
                else:
                    pending_signature = signature
            case RedactedThinkingBlock():
                continue
            case ToolUseBlock():
                name = to_upstream_tool_name(block.name)
                part = {"functionCall": {"name": name, "args": block.input}}
            case ToolResultBlock():
                responses.append(_function_response_parts(block, tool_calls, caps))
            case (
                SearchResultBlock()
                | ServerToolUseBlock()
                | WebSearchToolResultBlock()
                | WebFetchToolResultBlock()
            ):
                # What Anthropic's server tools (or the client's RAG) found: never dropped, or
                # the model answers without what the conversation already learnt.
                part = {"text": history_text(block)}
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


def _sign_current_turn(contents: list[Content]) -> None:
    """Gemini 3 refuses a function call of the current turn (the tool loop since the last user
    message) whose step carries no signature of its own: a history from another provider or
    model, or a client that dropped thinking blocks. Those get the documented bypass value.

    A user turn holding any function response still belongs to the loop, even when the client
    added text to it (Claude Code does): the bypass then reaches one step too far back, which
    Gemini accepts, where stopping one step short would be its 400.
    """
    start = 0
    for index, content in enumerate(contents):
        if content["role"] == "user" and not any("functionResponse" in p for p in content["parts"]):
            start = index
    for content in contents[start:]:
        if content["role"] != "model":
            continue
        # Gemini signs the first function call of each step; the validator checks that one.
        call = next((p for p in content["parts"] if "functionCall" in p), None)
        if call is not None and "thoughtSignature" not in call:
            call["thoughtSignature"] = BYPASS_SIGNATURE


def _media_parts(block: ImageBlock | DocumentBlock, caps: GeminiModel) -> list[Part]:
    source = block.source
    match source:
        case Base64Source():
            mime = _MIME_ALIASES.get(source.media_type, source.media_type)
            if isinstance(block, ImageBlock) and mime not in caps.image_types:
                return [_omitted_image(mime)]
            return [{"inlineData": {"mimeType": mime, "data": source.data}}]
        case UrlSource():
            default = "image/jpeg" if isinstance(block, ImageBlock) else "application/pdf"
            mime = mimetypes.guess_type(source.url.split("?", 1)[0])[0] or default
            if isinstance(block, ImageBlock) and mime not in caps.image_types:
                return [_omitted_image(mime)]
            return [{"fileData": {"mimeType": mime, "fileUri": source.url}}]
        case TextSource():
            title = block.title if isinstance(block, DocumentBlock) else None
            text = f"{title}\n\n{source.data}" if title else source.data
            return [{"text": text}] if text.strip() else []
        case ContentSource():
            items = source.content
            if isinstance(items, str):
                return [{"text": items}] if items.strip() else []
            parts: list[Part] = []
            for item in items:
                if isinstance(item, TextBlock):
                    parts.extend([{"text": item.text}] if item.text.strip() else [])
                else:
                    parts.extend(_media_parts(item, caps))
            return parts
        case FileSource():
            raise InvalidRequest(
                f"{block.type} source type 'file' (Anthropic Files API) is not available on "
                "Gemini; send the data as base64 or a URL"
            )
        case _:
            raise InvalidRequest(
                f"{block.type} source type '{source.type}' is not supported on gemini"
            )


def _omitted_image(mime: str) -> Part:
    """Gemini refuses the whole request for one image type it does not read, and a client
    resends that image with every later turn: a note keeps the conversation usable."""
    return {"text": f"[image omitted: Gemini does not accept {mime}]"}


def _function_response_parts(
    block: ToolResultBlock, tool_calls: dict[str, tuple[int, str]], caps: GeminiModel
) -> tuple[int, list[Part]]:
    """The call's position in the conversation, and the parts answering it."""
    # Every result follows its call: the request model refuses one that does not.
    position, name = tool_calls[block.tool_use_id]
    texts: list[str] = []
    media: list[Part] = []
    if isinstance(block.content, str):
        texts.append(block.content)
    else:
        for item in block.content:
            match item:
                case TextBlock():
                    texts.append(item.text)
                case ImageBlock() | DocumentBlock():
                    # Images and documents in a tool result follow it as their own parts.
                    media.extend(_media_parts(item, caps))
                case SearchResultBlock():
                    texts.append(history_text(item))
                case ToolReferenceBlock():
                    # The tool is declared in this request (MessagesRequest.declared_tools),
                    # under the name Gemini knows it by.
                    upstream = to_upstream_tool_name(item.tool_name)
                    texts.append(f"Tool '{upstream}' is now available; call it directly.")
                case _:
                    raise refuse_block(item.type, "gemini", "tool_result content")
    key = "error" if block.is_error else "output"
    response = {
        "functionResponse": {
            "name": to_upstream_tool_name(name),
            "response": {key: "\n".join(texts)},
        }
    }
    return position, [response, *media]


def _to_tools(request: Prompt, model: str) -> list[dict[str, Any]]:
    """Gemini's `tools`: one entry of function declarations, plus what each server tool maps to.

    Anthropic's tool-search tools are not declared: `declared_tools` lists every deferred tool
    in their place, since Gemini cannot search them.
    """
    declarations = []
    for tool in request.declared_tools:
        if tool.is_custom:
            declarations.append(_to_function(tool))
        elif not (tool.is_tool_search or is_web_tool(tool)):
            raise refuse_tool(tool.name, tool.type, "gemini")
    web = to_gemini_web_tools(
        request.declared_tools, with_functions=bool(declarations), tool_choice=request.tool_choice
    )
    return ([{"functionDeclarations": declarations}] if declarations else []) + web


def _to_function(tool: Tool) -> dict[str, Any]:
    # `strict` needs no translation: Gemini validates every call's arguments against
    # parametersJsonSchema already, so a strict tool is honoured by construction.
    declaration: dict[str, Any] = {
        "name": to_upstream_tool_name(tool.name),
        "parametersJsonSchema": _without_schema_uri(tool.input_schema),
    }
    if tool.description:
        declaration["description"] = tool.description
    return declaration


def _without_schema_uri(schema: dict[str, Any]) -> dict[str, Any]:
    # `$schema` is metadata, not a constraint; Gemini's schema parser does not take it.
    return {k: v for k, v in schema.items() if k != "$schema"}


def _to_calling_config(choice: ToolChoice) -> dict[str, Any]:
    match choice.type:
        case "auto":
            return {"mode": "AUTO"}
        case "any":
            return {"mode": "ANY"}
        case "none":
            return {"mode": "NONE"}
        case "tool":
            assert choice.name is not None  # ToolChoice refuses a "tool" choice without one
            return {"mode": "ANY", "allowedFunctionNames": [to_upstream_tool_name(choice.name)]}


def _to_generation_config(request: MessagesRequest, model: str, has_tools: bool) -> dict[str, Any]:
    caps = capabilities(model)
    config: dict[str, Any] = {"maxOutputTokens": min(request.max_tokens, caps.max_output_tokens)}
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
    if (schema := request.json_schema) is not None:
        if has_tools and not caps.json_with_tools:
            raise InvalidRequest(
                f"output_config.format: {model} cannot answer in a JSON schema while tools are "
                "declared (Gemini 3 models can); send the request without tools or use Gemini 3"
            )
        # The answer is JSON text, which the client gets as one text block, as from Anthropic.
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = _without_schema_uri(schema)
    thinking = _to_thinking_config(request, caps)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    return config


def _to_thinking_config(request: MessagesRequest, caps: GeminiModel) -> dict[str, Any] | None:
    if not caps.thinks:
        # The model answers without reasoning, which is what a client asking for thinking on
        # a model that has none gets anywhere; refusing would break every request it sends.
        return None
    thinking = request.thinking
    if thinking is not None and thinking.type == "disabled":
        # Pro models cannot turn thinking off (budget 0 is a 400); they just stop showing it.
        return {"thinkingBudget": 0} if caps.can_disable_thinking else {"includeThoughts": False}
    if thinking is not None and thinking.type == "enabled" and thinking.budget_tokens is not None:
        budget = caps.clamp_budget(thinking.budget_tokens)
    elif (effort := request.effort) is not None:
        level = EFFORT_BUDGETS[effort]
        budget = caps.max_budget if level is None else caps.clamp_budget(level)
    elif thinking is None:
        return None  # Gemini's own default
    else:  # adaptive, between_tools
        budget = DYNAMIC_BUDGET
    config: dict[str, Any] = {"thinkingBudget": budget}
    # Effort alone sets how hard the model thinks, not whether the client sees it; "omitted"
    # keeps the thoughts hidden while the signatures still come back on the parts they sign.
    if thinking is not None and thinking.display != "omitted":
        config["includeThoughts"] = True
    return config
