"""Where the gateway refuses what Anthropic also refuses, it says so in Anthropic's words:
Claude Code's automatic recovery (compaction, history repair) matches on them."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from ai_proxy.anthropic.models import MessagesRequest
from ai_proxy.errors import EMPTY_MESSAGES, InvalidRequest
from ai_proxy.providers.gemini.errors import from_gemini_error
from ai_proxy.providers.gemini.request import to_gemini_request
from ai_proxy.providers.openai.errors import from_openai_error
from ai_proxy.providers.openai.request import to_openai_request

# Anthropic's own message, as Claude Code reads it (numbers included, to know how much to cut).
PROMPT_TOO_LONG = re.compile(r"^prompt is too long: (\d+) tokens > (\d+) maximum")


def test_gemini_prompt_too_long_in_anthropics_words() -> None:
    body = {
        "error": {
            "code": 400,
            "status": "INVALID_ARGUMENT",
            "message": "The input token count (1196265) exceeds the maximum number of tokens "
            "allowed (1048576).",
        }
    }
    error = from_gemini_error(400, orjson.dumps(body))
    assert isinstance(error, InvalidRequest)
    match = PROMPT_TOO_LONG.match(error.message)
    assert match is not None and match.groups() == ("1196265", "1048576")
    assert "gemini: The input token count" in error.message


def test_openai_prompt_too_long_in_anthropics_words() -> None:
    body = {
        "error": {
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
            "message": "This model's maximum context length is 128000 tokens. However, your "
            "messages resulted in 130532 tokens. Please reduce the length of the messages.",
        }
    }
    error = from_openai_error(400, {}, orjson.dumps(body))
    match = PROMPT_TOO_LONG.match(error.message)
    assert match is not None and match.groups() == ("130532", "128000")


def test_prompt_too_long_without_numbers_keeps_the_phrase() -> None:
    body = {
        "error": {
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
            "message": "Your input exceeds the context window of this model.",
        }
    }
    error = from_openai_error(400, {}, orjson.dumps(body))
    assert error.message.startswith("prompt is too long (openai: Your input exceeds")


def request(**fields: Any) -> MessagesRequest:
    return MessagesRequest.model_validate({"model": "m", "max_tokens": 64, **fields})


ORPHAN = [
    {"role": "user", "content": "q"},
    {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_01Gone", "content": "x"}],
    },
]


@pytest.mark.parametrize(
    "translate",
    [
        lambda r: to_gemini_request(r, "gemini-2.5-flash"),
        lambda r: to_openai_request(r, "gpt-4.1"),
    ],
)
def test_orphan_tool_result_and_empty_conversation_in_anthropics_words(translate: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        translate(request(messages=ORPHAN))
    assert caught.value.message == (
        "unexpected `tool_use_id` found in `tool_result` blocks: toolu_01Gone. Each "
        "`tool_result` block must have a corresponding `tool_use` block in the previous message."
    )
    with pytest.raises(InvalidRequest) as caught:
        translate(request(messages=[{"role": "user", "content": [{"type": "text", "text": " "}]}]))
    assert caught.value.message == EMPTY_MESSAGES
