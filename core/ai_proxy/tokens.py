"""Count a request's input tokens locally, for providers without a counting API (OpenAI).

OpenAI has no count endpoint, so we tokenize what the OpenAI provider would send: the system
prompt, every message and the tool definitions, with the encoding of the upstream model
(`o200k_base` for gpt-4o/4.1/4.5/5 and the o-series, `cl100k_base` for gpt-4 and 3.5), plus
OpenAI's published chat framing: 3 tokens per message, 3 to prime the reply.

The tokenizer is the optional extra `ai-proxy[tokenizer]` (quicktok: the tiktoken encodings
compiled in, byte-identical ids, no download at run time). tiktoken itself fetches its BPE
files from the internet on first use, which a locked-down function cannot do. Without the
extra, every text is estimated at one token per four characters (`TokenCounter.exact` is
False), so counts stay in the right range but are not exact.

What is approximate even with the tokenizer, because OpenAI renders it internally:
tool definitions (counted as their JSON plus a fixed frame), images (a fixed 765 tokens: a
1024x1024 image at high detail, as OpenAI bills it) and base64 PDFs (a quarter of the decoded
size in bytes). Blocks the OpenAI provider carries as text (search results, Anthropic server
tools' calls and results, tool references) count the texts that carry their meaning, not
the provider's exact wording around them.

The same count is what a streamed OpenAI answer's `message_start` reports as input_tokens,
since OpenAI's own count arrives only with the stream's last chunk.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import orjson

from .anthropic.models import (
    Base64Source,
    ContentBlock,
    CountTokensRequest,
    DocumentBlock,
    ImageBlock,
    MessagesRequest,
    SearchResultBlock,
    ServerToolUseBlock,
    TextBlock,
    TextSource,
    ToolReferenceBlock,
    ToolResultBlock,
    ToolResultContent,
    ToolUseBlock,
    WebFetchToolResultBlock,
    WebSearchToolResultBlock,
)

TOKENS_PER_MESSAGE = 3  # <|start|>{role}<|message|> ... <|end|>
TOKENS_PER_REPLY = 3  # every reply is primed with <|start|>assistant<|message|>
TOKENS_PER_TOOL = 8  # the namespace frame around one function definition
IMAGE_TOKENS = 765  # 1024x1024 at high detail: 85 + 170 per 512px tile (4 tiles)
TOKENS_PER_NOTE = 10  # the sentence around a tool reference or a fetched URL
CHARS_PER_TOKEN = 4  # the estimate when no tokenizer is installed

# Model prefixes that still use cl100k_base; everything newer uses o200k_base.
CL100K_PREFIXES = ("gpt-4-", "gpt-3.5", "gpt-35")
CL100K_MODELS = frozenset({"gpt-4"})


class _Encoding(Protocol):
    def count(self, text: str) -> int: ...


@dataclass(frozen=True, slots=True)
class TokenCounter:
    encoding: str
    exact: bool
    _encoder: _Encoding | None

    def count(self, text: str) -> int:
        if not text:
            return 0
        if self._encoder is not None:
            return self._encoder.count(text)
        return -(-len(text) // CHARS_PER_TOKEN)


def encoding_for_model(model: str) -> str:
    name = model.lower().rsplit("/", 1)[-1]
    if name in CL100K_MODELS or name.startswith(CL100K_PREFIXES):
        return "cl100k_base"
    return "o200k_base"


@cache
def counter_for(encoding: str) -> TokenCounter:
    try:
        module = importlib.import_module("quicktok")
    except ImportError:
        return TokenCounter(encoding, exact=False, _encoder=None)
    counter = TokenCounter(encoding, exact=True, _encoder=module.get_encoding(encoding))
    _loaded[encoding] = counter
    return counter


_loaded: dict[str, TokenCounter] = {}


def loaded_counter_for(encoding: str) -> TokenCounter:
    """The exact counter once some request has loaded it, the estimate until then.

    Building an encoding takes about a second (o200k_base's 200k ranks), on the event loop:
    a figure that is only a first estimate (message_start's, which the final usage replaces)
    must not make the first stream of a process wait for it.
    """
    return _loaded.get(encoding) or TokenCounter(encoding, exact=False, _encoder=None)


def count_request_tokens(
    request: MessagesRequest | CountTokensRequest, model: str, counter: TokenCounter | None = None
) -> int:
    """The request's input tokens as `model` (an OpenAI chat model) would bill them."""
    counter = counter or counter_for(encoding_for_model(model))
    total = TOKENS_PER_REPLY
    system = _system_text(request)
    if system:
        total += TOKENS_PER_MESSAGE + counter.count("system") + counter.count(system)
    for message in request.messages:
        total += TOKENS_PER_MESSAGE + counter.count(message.role)
        total += _content_tokens(message.content, counter)
    for tool in request.declared_tools:
        total += TOKENS_PER_TOOL + counter.count(tool.name) + counter.count(tool.description or "")
        total += counter.count(orjson.dumps(tool.input_schema).decode())
    return total


def _system_text(request: MessagesRequest | CountTokensRequest) -> str:
    if request.system is None:
        return ""
    if isinstance(request.system, str):
        return request.system
    return "\n".join(block.text for block in request.system)


def _content_tokens(
    content: str | Iterable[ContentBlock | ToolResultContent], counter: TokenCounter
) -> int:
    if isinstance(content, str):
        return counter.count(content)
    total = 0
    for block in content:
        match block:
            case TextBlock():
                total += counter.count(block.text)
            case ImageBlock() | DocumentBlock():
                total += _media_tokens(block, counter)
            case ToolUseBlock():
                # An assistant tool call: its name and its JSON arguments.
                total += counter.count(block.name) + counter.count(
                    orjson.dumps(block.input).decode()
                )
            case ToolResultBlock():
                total += TOKENS_PER_MESSAGE  # a tool result is a message of its own at OpenAI
                total += _content_tokens(block.content, counter)
            case SearchResultBlock():
                total += counter.count(block.title) + counter.count(block.source)
                total += sum(counter.count(item.text) for item in block.content)
            case ServerToolUseBlock():
                total += counter.count(block.name) + counter.count(
                    orjson.dumps(block.input).decode()
                )
            case WebSearchToolResultBlock() | WebFetchToolResultBlock():
                total += TOKENS_PER_NOTE + sum(counter.count(text) for text in _texts(block))
            case ToolReferenceBlock():
                total += TOKENS_PER_NOTE + counter.count(block.tool_name)
            case _:
                # Thinking from earlier turns is not sent back to OpenAI; other block types
                # are refused before any request is made.
                pass
    return total


def _texts(block: WebSearchToolResultBlock | WebFetchToolResultBlock) -> list[str]:
    """What reaches the model of a server tool's result: titles, URLs, fetched text."""
    if isinstance(block, WebSearchToolResultBlock):
        results = block.content if isinstance(block.content, list) else []
        return [str(r.get(key) or "") for r in results for key in ("title", "url")]
    document = block.content.get("content")
    document = document if isinstance(document, dict) else {}
    source = document.get("source")
    data = source.get("data") if isinstance(source, dict) and source.get("type") == "text" else ""
    return [str(block.content.get("url") or ""), str(document.get("title") or ""), str(data)]


def _media_tokens(block: ImageBlock | DocumentBlock, counter: TokenCounter) -> int:
    source = block.source
    if isinstance(block, DocumentBlock):
        if isinstance(source, TextSource):
            return counter.count(block.title or "") + counter.count(source.data)
        if isinstance(source, Base64Source):
            return len(source.data) * 3 // 4 // CHARS_PER_TOKEN
    return IMAGE_TOKENS
