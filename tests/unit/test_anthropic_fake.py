"""The fake Anthropic checks what we send as strictly as the real API: if it accepted anything,
the pass-through tests would prove nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakes.anthropic import FakeAnthropic, sign, stream_frames
from tests.fakes.anthropic_schema import request_problem
from tests.sse_grammar import check_stream

BASE = {"model": "claude-opus-4-8", "max_tokens": 16}
USER = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({**BASE, "messages": USER}, None),
        ({**BASE, "messages": USER, "stream": True, "thinking": {"type": "adaptive"}}, None),
        ({**BASE, "messages": USER, "colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"model": "claude-x", "messages": USER}, "max_tokens: Field required"),
        ({**BASE, "messages": "hi"}, "messages: Input should be a valid list"),
        ({**BASE, "max_tokens": "16", "messages": USER}, "max_tokens: Input should be a valid"),
        (
            {
                **BASE,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "a", "x": 1}]}],
            },
            "messages.0.content.0.x: Extra inputs are not permitted",
        ),
        (
            {
                **BASE,
                "messages": [
                    {"role": "assistant", "content": [{"type": "thinking", "thinking": "t"}]}
                ],
            },
            "messages.0.content.0.signature: Field required",
        ),
        (
            {**BASE, "messages": USER, "tools": [{"name": "t", "input_schema": {}, "strict2": 1}]},
            "tools.0.strict2: Extra inputs are not permitted",
        ),
        (
            {**BASE, "messages": USER, "thinking": {"type": "enabled"}},
            "thinking.budget_tokens: Field required",
        ),
        (
            {
                **BASE,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": "AA",
                                    "url": "x",
                                },
                            }
                        ],
                    }
                ],
            },
            "messages.0.content.0.source.url: Extra inputs are not permitted",
        ),
    ],
)
def test_anthropic_fake_schema(body: dict[str, Any], problem: str | None) -> None:
    found = request_problem(body, "messages")
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem)


def test_anthropic_fake_schema_count_tokens_and_beta() -> None:
    assert request_problem({"model": "m", "messages": USER}, "count_tokens") is None
    assert request_problem({**BASE, "messages": USER}, "count_tokens") == (
        "max_tokens: Extra inputs are not permitted"
    )
    beta_body = {**BASE, "messages": USER, "context_management": {"edits": []}}
    assert request_problem(beta_body, "messages") is not None
    assert request_problem(beta_body, "messages", beta=True) is None


def post(fake: FakeAnthropic, body: dict[str, Any], **headers: str) -> httpx.Response:
    base = {"x-api-key": fake.api_key, "anthropic-version": "2023-06-01"}
    return httpx.post(f"{fake.base_url}/v1/messages", json=body, headers={**base, **headers})


def test_anthropic_fake_checks_keys_version_and_rules() -> None:
    with FakeAnthropic(client_keys={"aip_client"}) as fake:
        assert post(fake, {**BASE, "messages": USER}).status_code == 200
        assert post(fake, {**BASE, "messages": USER}, **{"x-api-key": "other"}).status_code == 401
        leaked = post(fake, {**BASE, "messages": USER}, **{"x-forwarded-key": "aip_client"})
        assert leaked.status_code == 401 and fake.leaks == ["x-forwarded-key"]
    with FakeAnthropic() as fake:
        missing = httpx.post(
            f"{fake.base_url}/v1/messages", json={**BASE, "messages": USER},
            headers={"x-api-key": fake.api_key},
        )  # fmt: skip
        assert missing.status_code == 400
        assert post(fake, {**BASE, "model": "gpt-4o", "messages": USER}).status_code == 404
        forged: list[dict[str, Any]] = [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "t", "signature": "gemini:abc"},
                    {"type": "text", "text": "a"},
                ],
            },
            {"role": "user", "content": "q2"},
        ]
        answer = post(fake, {**BASE, "messages": forged})
        assert answer.status_code == 400
        assert "Invalid `signature`" in answer.json()["error"]["message"]
        forged[1]["content"][0]["signature"] = sign("t")
        assert post(fake, {**BASE, "messages": forged}).status_code == 200


def test_anthropic_fake_stream_is_well_formed() -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": sign("hmm")},
            {"type": "text", "text": "hello"},
            {"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {"path": "/"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 5},
    }
    events = check_stream(b"".join(stream_frames(message)))
    assert events[-2]["usage"] == {"output_tokens": 5}


def test_anthropic_fake_schema_thinking_display_updates_is_beta_only() -> None:
    # Claude Code 2.1.332 sends `display: "updates"` with its thinking-display-updates beta;
    # the SDK's beta types know it, the GA types do not (the real API takes it with the beta).
    body = {**BASE, "messages": USER, "thinking": {"type": "adaptive", "display": "updates"}}
    assert request_problem(body, "messages", beta=True) is None
    assert request_problem(body, "messages") is not None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
            "messages: text content blocks must be non-empty",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": " \n"}]}]},
            "messages: text content blocks must contain non-whitespace text",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "list files"},
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "text", "text": "Looking."},
                            {"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {}},
                        ],
                    },
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a"}
                        ],
                    },
                ],
                "thinking": {"type": "adaptive"},
            },
            "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
            "`text`. When `thinking` is enabled, a final `assistant` message must start with a "
            "thinking block",
        ),
        (
            {
                "messages": USER,
                "context_management": {"edits": [{"type": "clear_thinking_20251015"}]},
            },
            "`clear_thinking_20251015` strategy requires `thinking` to be enabled",
        ),
    ],
)
def test_anthropic_fake_refuses_what_anthropic_refuses(extra: dict[str, Any], message: str) -> None:
    with FakeAnthropic() as fake:
        answer = post(
            fake, {**BASE, **extra}, **{"anthropic-beta": "context-management-2025-06-27"}
        )
        assert answer.status_code == 400
        assert answer.json()["error"]["message"].startswith(message)
