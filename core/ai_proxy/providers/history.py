"""Blocks Gemini and Chat Completions have no part for, carried as text the model understands.

A conversation that began at Anthropic holds its server tools' work (what was searched or
fetched and what came back), RAG search results, and tool search's `tool_reference`s. None
of it may be dropped, or the model answers without what it already learnt.
"""

from __future__ import annotations

from typing import Any, assert_never

import orjson

from ..anthropic.models import (
    SearchResultBlock,
    ServerToolUseBlock,
    ToolReferenceBlock,
    WebFetchToolResultBlock,
    WebSearchToolResultBlock,
)

HistoryBlock = (
    SearchResultBlock
    | ServerToolUseBlock
    | WebSearchToolResultBlock
    | WebFetchToolResultBlock
    | ToolReferenceBlock
)


def history_text(block: HistoryBlock) -> str:
    match block:
        case SearchResultBlock():
            body = "\n".join(item.text for item in block.content if item.text)
            return f"Search result: {block.title}\nSource: {block.source}\n{body}".rstrip()
        case ServerToolUseBlock():
            return _server_call(block)
        case WebSearchToolResultBlock():
            return _search_results(block.content)
        case WebFetchToolResultBlock():
            return _fetched(block.content)
        case ToolReferenceBlock():
            # The deferred tool it names is declared in this request (MessagesRequest
            # .declared_tools), so the model can call it right away.
            return f"Tool '{block.tool_name}' is now available; call it directly."
        case _:
            assert_never(block)


def _server_call(block: ServerToolUseBlock) -> str:
    query, url = block.input.get("query"), block.input.get("url")
    if isinstance(query, str):
        return f"[{block.name}] Searched the web for: {query}"
    if isinstance(url, str):
        return f"[{block.name}] Fetched: {url}"
    return f"[{block.name}] Called with {orjson.dumps(block.input).decode()}"


def _search_results(content: list[dict[str, Any]] | dict[str, Any]) -> str:
    if isinstance(content, dict):
        return f"Web search failed: {content.get('error_code', 'unknown error')}"
    lines = ["Web search results:"]
    for result in content:
        title, url = result.get("title") or "(untitled)", result.get("url") or ""
        age = f", {result['page_age']}" if result.get("page_age") else ""
        lines.append(f"- {title} ({url}{age})")
    if len(lines) == 1:
        lines.append("(no results)")
    return "\n".join(lines)


def _fetched(content: dict[str, Any]) -> str:
    if content.get("type") != "web_fetch_result":
        return f"Web fetch failed: {content.get('error_code', 'unknown error')}"
    lines = [f"Fetched {content.get('url', '')}"]
    document = content.get("content")
    document = document if isinstance(document, dict) else {}
    if document.get("title"):
        lines.append(f"Title: {document['title']}")
    source = document.get("source")
    source = source if isinstance(source, dict) else {}
    if source.get("type") == "text" and isinstance(source.get("data"), str):
        lines.append(source["data"])
    else:
        # A fetched PDF arrives as base64 inside the result; a tool result or an assistant
        # turn takes no files on every upstream, so the model is told what it cannot see.
        lines.append(f"(the fetched {source.get('media_type', 'document')} is not shown here)")
    return "\n".join(lines)
