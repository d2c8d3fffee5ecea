"""Anthropic's web tools on Gemini: `web_search` is Google Search grounding, `web_fetch` is URL
context, and Gemini's grounding metadata comes back as Anthropic's server-tool blocks.

Request: `to_gemini_web_tools` turns the web tools into `{"googleSearch": {}}` and
`{"urlContext": {}}`. Gemini's `GoogleSearch` takes only a time range and `UrlContext` nothing
(generativelanguage v1beta), so an option the client relies on for what may be read
(`allowed_domains`, `blocked_domains`, `url_sources`) is refused by name; hints and cost caps
are dropped, each with its reason in `ADVISORY_OPTIONS`.

Answer: Gemini runs the search itself and says what it did only in the candidate's
`groundingMetadata` (queries, sources, and which span of the text each source supports) and
`urlContextMetadata` (the URLs it read). That metadata comes with the last chunks, after the
text, yet Anthropic puts the search and its results before the text they support, and cites
spans of that text. So when the request declares a web tool, `GroundedText` holds the answer's
text back until Gemini's answer ends, then writes `server_tool_use` + result blocks, then the
text cut into cited and uncited blocks. Thinking still streams as it comes; a request without
web tools streams its text as before (`LiveText`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ...anthropic.models import MessagesRequest, Tool, ToolChoice
from ...anthropic.surface import tool_family
from ...errors import InvalidRequest
from ..blocks import Event, MessageStream
from ..ids import new_server_tool_use_id

# Anthropic tool family -> the Gemini tool entry that does the same job.
WEB_TOOLS = {"web_search": "googleSearch", "web_fetch": "urlContext"}
# Options Gemini has no way to honour where the client relies on them: refused.
REFUSED_OPTIONS = {
    "allowed_domains": "Gemini's Google Search and URL context cannot be limited to domains",
    "blocked_domains": "Gemini's Google Search and URL context cannot exclude domains",
    "url_sources": "Gemini's URL context reads any URL in the prompt; it cannot be limited",
}
# Options that are hints or caps Anthropic applies on its side: dropped, for these reasons.
ADVISORY_OPTIONS = {
    "max_uses": "a cost cap; Gemini decides how many searches a turn needs and has no cap",
    "user_location": "a ranking hint; Gemini's search takes no location",
    "max_content_tokens": "a cost cap on fetched text, which Gemini never returns",
    "use_cache": "a freshness preference; Gemini has no fetch cache setting",
    "citations": "Gemini cites where it can, whatever this says",
    "allowed_callers": "only direct calls exist without Anthropic's code execution",
    "response_inclusion": "only matters for calls made from Anthropic's code execution",
    "cache_control": "a caching hint",
}
COMBINATION_MESSAGE = (
    "Gemini refuses Google Search and URL context in a request that also declares functions "
    "('Tool use with function calling is unsupported'); send the web tools in a request of "
    "their own"
)


def is_web_tool(tool: Tool) -> bool:
    return tool_family(tool.type) in WEB_TOOLS


def to_gemini_web_tools(
    tools: Sequence[Tool], *, with_functions: bool, tool_choice: ToolChoice | None
) -> list[dict[str, Any]]:
    """Gemini's tool entries for the web tools among `tools` (the others are the caller's).

    `tool_choice` "none" means no tool may run, so none is declared. "any" or "tool" cannot
    be honoured more closely than declaring the search: Gemini grounds when it judges a search
    useful and has no way to force one.
    """
    web = [tool for tool in tools if is_web_tool(tool)]
    if not web or (tool_choice is not None and tool_choice.type == "none"):
        return []
    for tool in web:
        _check_options(tool)
    if with_functions:
        tool = web[0]
        raise InvalidRequest(
            f"tools: '{tool.name}' (type '{tool.type}') cannot be combined with custom tools "
            f"on gemini: {COMBINATION_MESSAGE}"
        )
    entries = dict.fromkeys(WEB_TOOLS[tool_family(tool.type)] for tool in web)
    return [{entry: {}} for entry in entries]


def _check_options(tool: Tool) -> None:
    for option, value in (tool.model_extra or {}).items():
        # A null, or an empty domain list, restricts nothing.
        if option in ADVISORY_OPTIONS or value is None or (option in REFUSED_OPTIONS and not value):
            continue
        reason = REFUSED_OPTIONS.get(option, "ai-proxy does not know this option")
        raise InvalidRequest(
            f"tools: '{tool.name}' option '{option}' is not supported on gemini: {reason}"
        )


# --- the answer ----------------------------------------------------------------------------


class AnswerText(Protocol):
    """Where the answer's text parts go: straight to the client, or held for grounding."""

    def add(self, text: str) -> list[Event]: ...

    def observe(self, candidate: dict[str, Any]) -> None: ...

    def finish(self) -> list[Event]: ...

    def usage(self) -> dict[str, Any]: ...


TextSink = Callable[[MessageStream], AnswerText]


def text_sink_for(request: MessagesRequest | None) -> TextSink:
    """Held for grounding when the request declares a web tool, live otherwise."""
    if request is not None and any(is_web_tool(tool) for tool in request.tools or ()):
        return GroundedText
    return LiveText


class LiveText:
    __slots__ = ("_stream",)

    def __init__(self, stream: MessageStream) -> None:
        self._stream = stream

    def add(self, text: str) -> list[Event]:
        return self._stream.text(text)

    def observe(self, candidate: dict[str, Any]) -> None:
        return None

    def finish(self) -> list[Event]:
        return []

    def usage(self) -> dict[str, Any]:
        return {}


class GroundedText:
    __slots__ = ("_fetch", "_search", "_stream", "_texts")

    def __init__(self, stream: MessageStream) -> None:
        self._stream = stream
        self._texts: list[str] = []
        self._search: dict[str, Any] = {}
        self._fetch: dict[str, Any] = {}

    def add(self, text: str) -> list[Event]:
        self._texts.append(text)
        return []

    def observe(self, candidate: dict[str, Any]) -> None:
        # Gemini resends the metadata whole as it grows: the last copy is the complete one.
        search = candidate.get("groundingMetadata")
        if isinstance(search, dict):
            self._search = search
        fetch = candidate.get("urlContextMetadata")
        if isinstance(fetch, dict):
            self._fetch = fetch

    def finish(self) -> list[Event]:
        stream = self._stream
        sources = _web_sources(self._search)
        fetched = _fetched_urls(self._fetch)
        events: list[Event] = []
        for url, status in fetched:
            tool_id = new_server_tool_use_id()
            events.extend(stream.server_tool_use(tool_id, "web_fetch", {"url": url}))
            events.extend(stream.web_fetch_result(tool_id, _fetch_content(url, status, sources)))
        queries = self._queries()
        if queries:
            # Gemini does not say which query found which source, so one search block carries
            # every source; the usage still counts each query.
            tool_id = new_server_tool_use_id()
            fetched_urls = {url for url, _ in fetched}
            found = [
                {
                    "type": "web_search_result",
                    "url": url,
                    "title": title,
                    "encrypted_content": "",
                    "page_age": None,
                }
                for url, title in sources
                if url not in fetched_urls
            ]
            events.extend(stream.server_tool_use(tool_id, "web_search", {"query": queries[0]}))
            events.extend(stream.web_search_result(tool_id, _unique(found)))
        for text, citations in _cited_pieces("".join(self._texts), self._search, sources):
            if citations:
                events.extend(stream.cited_text(text, citations))
            else:
                events.extend(stream.text(text))
        return events

    def usage(self) -> dict[str, Any]:
        return {
            "server_tool_use": {
                "web_search_requests": len(self._queries()),
                "web_fetch_requests": len(_fetched_urls(self._fetch)),
            }
        }

    def _queries(self) -> list[str]:
        queries = self._search.get("webSearchQueries") or []
        return [q for q in queries if isinstance(q, str) and q]


def _web_sources(search: dict[str, Any]) -> list[tuple[str, str]]:
    """(url, title) of each grounding chunk, in Gemini's order (supports index into it).

    Gemini's URLs are its own redirect links (vertexaisearch.cloud.google.com/...) and its
    titles are usually the site's domain: that is all it returns about a source.
    """
    sources = []
    for chunk in search.get("groundingChunks") or ():
        web = chunk.get("web") if isinstance(chunk, dict) else None
        web = web if isinstance(web, dict) else {}
        url = str(web.get("uri") or "")
        sources.append((url, str(web.get("title") or url)))
    return sources


def _fetched_urls(fetch: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (str(item["retrievedUrl"]), str(item.get("urlRetrievalStatus") or ""))
        for item in fetch.get("urlMetadata") or ()
        if isinstance(item, dict) and item.get("retrievedUrl")
    ]


# URL context statuses -> Anthropic's web_fetch error codes; success is a result, not an error.
FETCH_ERRORS = {
    "URL_RETRIEVAL_STATUS_UNSAFE": "url_not_allowed",
    "URL_RETRIEVAL_STATUS_PAYWALL": "url_not_accessible",
    "URL_RETRIEVAL_STATUS_ERROR": "url_not_accessible",
}


def _fetch_content(url: str, status: str, sources: list[tuple[str, str]]) -> Event:
    if status in FETCH_ERRORS:
        return {"type": "web_fetch_tool_result_error", "error_code": FETCH_ERRORS[status]}
    title = next((t for u, t in sources if u == url and t != url), None)
    return {
        "type": "web_fetch_result",
        "url": url,
        # Gemini reads the page but never returns its text: the document is empty.
        "content": {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": ""},
            "title": title,
        },
        "retrieved_at": None,
    }


def _cited_pieces(
    text: str, search: dict[str, Any], sources: list[tuple[str, str]]
) -> list[tuple[str, list[Event]]]:
    """The text cut into consecutive pieces, each with the citations of its sources.

    Spans are found by their text, not by Gemini's byte offsets: those count from the start
    of a part, and parts are cut differently when streamed and when not.
    """
    pieces: list[tuple[str, list[Event]]] = []
    cursor = 0
    for support in search.get("groundingSupports") or ():
        segment = support.get("segment") if isinstance(support, dict) else None
        cited = segment.get("text") if isinstance(segment, dict) else None
        if not isinstance(cited, str) or not cited:
            continue
        start = text.find(cited, cursor)
        citations = _citations(support.get("groundingChunkIndices") or (), cited, sources)
        if start < 0 or not citations:
            continue  # a span out of order or without a web source: its sources stay listed
        _add_piece(pieces, text[cursor:start], [])
        _add_piece(pieces, cited, citations)
        cursor = start + len(cited)
    _add_piece(pieces, text[cursor:], [])
    return pieces


def _add_piece(pieces: list[tuple[str, list[Event]]], text: str, citations: list[Event]) -> None:
    """Append a piece, never leaving a whitespace-only one: Anthropic refuses whitespace-only
    text blocks when the conversation is sent back, so whitespace joins a neighbour."""
    if not text:
        return
    if pieces:
        previous, previous_citations = pieces[-1]
        if not text.strip() or not (citations or previous_citations):
            pieces[-1] = (previous + text, previous_citations)
            return
        if not previous.strip():
            pieces[-1] = (previous + text, citations)
            return
    pieces.append((text, citations))


def _citations(indices: Sequence[Any], cited: str, sources: list[tuple[str, str]]) -> list[Event]:
    citations = []
    for index in dict.fromkeys(indices):
        if not isinstance(index, int) or not 0 <= index < len(sources):
            continue
        url, title = sources[index]
        if url:
            citations.append(
                {
                    "type": "web_search_result_location",
                    "url": url,
                    "title": title,
                    "encrypted_index": "",
                    # Gemini does not quote its source; the span it supports is what we have.
                    "cited_text": cited,
                }
            )
    return citations


def _unique(results: list[Event]) -> list[Event]:
    seen: set[str] = set()
    unique = []
    for result in results:
        if result["url"] and result["url"] not in seen:
            seen.add(result["url"])
            unique.append(result)
    return unique
