"""Hypothesis strategies for Anthropic Messages requests: valid ones (within what a provider
documents it can carry) and hostile ones (wrong shapes, wrong types, not JSON at all)."""

from __future__ import annotations

import base64
from typing import Any, Literal

import orjson
from hypothesis import strategies as st

Provider = Literal["gemini", "openai"]
Json = dict[str, Any]

text = st.text(max_size=30)
non_empty_text = st.text(min_size=1, max_size=30).filter(lambda s: s.strip() != "")
tool_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
ids = st.from_regex(r"toolu_[A-Za-z0-9]{1,24}", fullmatch=True)
urls = st.builds(
    lambda host, path, ext: f"https://{host}.example/{path}.{ext}",
    st.from_regex(r"[a-z]{1,10}", fullmatch=True),
    st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True),
    st.sampled_from(["png", "jpg", "pdf", "bin"]),
)
b64 = st.binary(min_size=1, max_size=24).map(lambda b: base64.b64encode(b).decode())


def images(provider: Provider) -> st.SearchStrategy[Json]:
    base64_source = st.fixed_dictionaries(
        {
            "type": st.just("base64"),
            "media_type": st.sampled_from(["image/png", "image/jpeg", "image/webp", "image/gif"]),
            "data": b64,
        }
    )
    url_source = st.fixed_dictionaries({"type": st.just("url"), "url": urls})
    return st.fixed_dictionaries(
        {"type": st.just("image"), "source": st.one_of(base64_source, url_source)}
    )


def documents(provider: Provider) -> st.SearchStrategy[Json]:
    sources = [
        st.fixed_dictionaries(
            {"type": st.just("base64"), "media_type": st.just("application/pdf"), "data": b64}
        ),
        st.fixed_dictionaries(
            {"type": st.just("text"), "media_type": st.just("text/plain"), "data": text}
        ),
    ]
    if provider == "gemini":  # OpenAI takes PDFs only inline (documented 400 otherwise)
        sources.append(st.fixed_dictionaries({"type": st.just("url"), "url": urls}))
    return st.fixed_dictionaries(
        {"type": st.just("document"), "source": st.one_of(*sources)},
        optional={"title": st.none() | text},
    )


def text_blocks() -> st.SearchStrategy[Json]:
    return st.fixed_dictionaries({"type": st.just("text"), "text": text})


def json_values() -> st.SearchStrategy[Any]:
    scalars: st.SearchStrategy[Any] = (
        st.none() | st.booleans() | st.integers(-(10**6), 10**6) | text
    )
    scalars |= st.floats(allow_nan=False, allow_infinity=False, width=32)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=6,
    )


def input_schemas() -> st.SearchStrategy[Json]:
    prop = st.fixed_dictionaries(
        {"type": st.sampled_from(["string", "number", "integer", "boolean"])},
        optional={"description": text},
    )
    return st.fixed_dictionaries(
        {"type": st.just("object"), "properties": st.dictionaries(tool_names, prop, max_size=3)},
        optional={
            "additionalProperties": st.booleans(),
            "$schema": st.just("http://json-schema.org/draft-07/schema#"),
        },
    )


@st.composite
def conversations(draw: st.DrawFn, provider: Provider, tools: list[str]) -> list[Json]:
    """user, assistant, user, ...: tool_use ids answered by the next user turn."""
    media = st.one_of(images(provider), documents(provider))
    first = [{"type": "text", "text": draw(non_empty_text)}]
    first += draw(st.lists(st.one_of(text_blocks(), media), max_size=2))
    messages: list[Json] = [
        {"role": "user", "content": draw(st.sampled_from([first, first[0]["text"]]))}
    ]
    for _ in range(draw(st.integers(0, 2))):
        blocks: list[Json] = []
        if draw(st.booleans()):
            blocks.append({"type": "thinking", "thinking": draw(text), "signature": draw(text)})
        blocks.append({"type": "text", "text": draw(non_empty_text)})
        calls: list[tuple[str, str]] = []
        if tools:
            for name in draw(st.lists(st.sampled_from(tools), max_size=2)):
                call_id = f"{draw(ids)}{len(messages)}{len(calls)}"  # unique in the conversation
                calls.append((call_id, name))
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call_id,
                        "name": name,
                        "input": draw(st.dictionaries(tool_names, json_values(), max_size=3)),
                    }
                )
        messages.append({"role": "assistant", "content": blocks})
        reply: list[Json] = []
        for call_id, _ in calls:
            content = draw(text | st.lists(st.one_of(text_blocks(), images(provider)), max_size=2))
            result: Json = {"type": "tool_result", "tool_use_id": call_id, "content": content}
            if draw(st.booleans()):
                result["is_error"] = True
            reply.append(result)
        reply.append({"type": "text", "text": draw(non_empty_text)})
        messages.append({"role": "user", "content": reply})
    return messages


@st.composite
def valid_requests(draw: st.DrawFn, provider: Provider = "gemini") -> Json:
    model = "gemini-2.5-flash" if provider == "gemini" else "gpt-4o"
    tool_list = draw(st.lists(tool_names, max_size=3, unique=True))
    request: Json = {
        "model": model,
        "max_tokens": draw(st.integers(1, 8192)),
        "messages": draw(conversations(provider, tool_list)),
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "system": text | st.lists(text_blocks(), max_size=2),
        "stop_sequences": st.lists(non_empty_text, max_size=4),
        "stream": st.booleans(),
        "temperature": st.floats(0.0, 1.0),
        "top_p": st.floats(0.0, 1.0),
        "top_k": st.integers(1, 40),
        "metadata": st.fixed_dictionaries({"user_id": text}),
        "thinking": st.one_of(
            st.fixed_dictionaries(
                {"type": st.just("enabled"), "budget_tokens": st.integers(1024, 4096)}
            ),
            st.just({"type": "disabled"}),
            st.just({"type": "adaptive"}),
        ),
        "output_config": st.fixed_dictionaries(
            {"effort": st.sampled_from(["low", "medium", "high", "max"])}
        ),
    }
    if provider == "openai":
        del optional["top_k"]  # OpenAI has none: refused by name (anthropic/surface.py)
    for key, strategy in optional.items():
        if draw(st.booleans()):
            request[key] = draw(strategy)
    if tool_list:
        request["tools"] = [
            {
                "name": name,
                "description": draw(text),
                "input_schema": draw(input_schemas()),
            }
            for name in tool_list
        ]
        if draw(st.booleans()):
            choice = draw(st.sampled_from(["auto", "any", "none", "tool"]))
            request["tool_choice"] = {"type": choice}
            if choice == "tool":
                request["tool_choice"]["name"] = draw(st.sampled_from(tool_list))
    return request


# --- hostile input --------------------------------------------------------------------------

MUTATIONS: list[tuple[str, Any]] = [
    ("model", None),
    ("model", ""),
    ("model", 42),
    ("max_tokens", 0),
    ("max_tokens", -1),
    ("max_tokens", 1.5),
    ("max_tokens", None),
    ("messages", []),
    ("messages", "hello"),
    ("messages", [{"role": "bot", "content": "x"}]),
    ("messages", [{"role": "user"}]),
    ("messages", [{"role": "user", "content": [{"type": "video", "url": "x"}]}]),
    ("messages", [{"role": "user", "content": [{"type": "image", "source": {"type": "ftp"}}]}]),
    ("messages", [{"role": "user", "content": [{"type": "text"}]}]),
    ("messages", [{"role": "user", "content": 7}]),
    ("messages", [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "nope"}]}]),
    (
        "messages",
        [
            {
                "role": "user",
                "content": [{"type": "document", "source": {"type": "file", "file_id": "f"}}],
            }
        ],
    ),
    ("temperature", 5),
    ("temperature", "hot"),
    ("top_p", -0.1),
    ("top_k", -3),
    ("stream", "maybe"),
    ("stop_sequences", "STOP"),
    ("stop_sequences", ["a", "b", "c", "d", "e", "f"]),
    ("tools", [{"description": "no name"}]),
    # Code execution runs at Anthropic: Gemini has no equivalent (web search it does have).
    ("tools", [{"name": "t", "type": "code_execution_20250825"}]),
    ("tools", [{"name": "t", "type": "web_search_20250305", "allowed_domains": ["a.com"]}]),
    ("future_field", {"anything": True}),
    ("tool_choice", {"type": "sometimes"}),
    ("tool_choice", {"type": "tool"}),
    ("thinking", {"type": "enabled"}),
    ("thinking", {"type": "maybe"}),
    ("thinking", {"type": "enabled", "budget_tokens": -5}),
    ("system", 12),
    ("system", [{"type": "image"}]),
]


@st.composite
def invalid_payloads(draw: st.DrawFn) -> bytes:
    """Bodies the gateway must refuse with a 4xx (never a 5xx, never a crash)."""
    kind = draw(st.sampled_from(["mutation", "mutation", "not_object", "not_json", "deep"]))
    if kind == "not_json":
        return draw(
            st.binary(max_size=200).filter(lambda b: _not_json_object(b))
            | st.sampled_from([b"", b"{", b'{"model": }', b"\xff\xfe", b"NaN", b"{'a': 1}"])
        )
    if kind == "not_object":
        numbers = st.integers(-(2**63), 2**63 - 1)
        value = draw(st.one_of(st.lists(numbers, max_size=3), text, numbers, st.none()))
        return orjson.dumps(value)
    if kind == "deep":
        depth = draw(st.integers(100, 5000))
        return (
            b'{"model": "gemini-2.5-flash", "max_tokens": 5, "messages": '
            + b"[" * depth
            + b"]" * depth
            + b"}"
        )
    request = draw(valid_requests())
    key, value = draw(st.sampled_from(MUTATIONS))
    if value is None:
        request.pop(key, None)
    else:
        request[key] = value
    if key == "tools" and request.get("tool_choice", {}).get("type") == "none":
        # A tool the model may not call is never carried upstream, so what Gemini cannot
        # carry of it (a search's allowed_domains) is not refused: Anthropic accepts it too.
        del request["tool_choice"]
    if key == "tool_choice":  # without tools a tool_choice is ignored, not wrong
        request.setdefault("tools", [{"name": "lookup", "input_schema": {"type": "object"}}])
    return orjson.dumps(request)


def _not_json_object(raw: bytes) -> bool:
    try:
        return not isinstance(orjson.loads(raw), dict)
    except orjson.JSONDecodeError:
        return True
