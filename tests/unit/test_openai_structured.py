"""Structured outputs on OpenAI: output_config.format -> response_format json_schema, tool
strict -> function.strict, strict only where OpenAI's strict rules hold. The fake OpenAI
refuses a strict schema outside those rules, as the real API does."""

from __future__ import annotations

from typing import Any

import pytest
from ai_proxy.anthropic.accumulate import accumulate
from ai_proxy.anthropic.models import MessagesRequest
from ai_proxy.providers.openai.request import to_openai_request
from ai_proxy.providers.openai.response import OpenAIStreamTranslator
from ai_proxy.providers.openai.strict import satisfies_strict_rules

from tests.fakes.openai import Answer, Rejected, render_completion, validate_request

HI = [{"role": "user", "content": "Extract the event."}]
STRICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "attendees": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"who": {"type": "string"}},
                "required": ["who"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["name", "attendees"],
    "additionalProperties": False,
}
# Valid at Anthropic (optional "room"), outside OpenAI's strict rules.
OPTIONAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "room": {"type": "string"}},
    "required": ["name"],
    "additionalProperties": False,
}


def translate(**fields: Any) -> dict[str, Any]:
    payload = {"model": "gpt-4o", "max_tokens": 1024, "messages": HI, **fields}
    body = to_openai_request(MessagesRequest.model_validate(payload), "gpt-4o")
    validate_request(body)
    return body


@pytest.mark.parametrize(("schema", "strict"), [(STRICT_SCHEMA, True), (OPTIONAL_SCHEMA, False)])
def test_output_config_format_becomes_response_format(schema: dict[str, Any], strict: bool) -> None:
    body = translate(output_config={"format": {"type": "json_schema", "schema": schema}})
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema, "strict": strict},
    }


def test_the_beta_output_format_spelling_is_the_same() -> None:
    body = translate(output_format={"type": "json_schema", "schema": STRICT_SCHEMA})
    assert body["response_format"]["json_schema"]["schema"] == STRICT_SCHEMA


def test_effort_and_format_together() -> None:
    payload = {
        "model": "o3",
        "max_tokens": 1024,
        "messages": HI,
        "output_config": {
            "effort": "xhigh",
            "format": {"type": "json_schema", "schema": STRICT_SCHEMA},
        },
    }
    body = to_openai_request(MessagesRequest.model_validate(payload), "o3")
    validate_request(body)
    assert body["reasoning_effort"] == "high" and body["response_format"]["json_schema"]["strict"]


def strict_tool(schema: dict[str, Any], strict: bool | None = True) -> dict[str, Any]:
    return {"name": "record", "input_schema": schema, "strict": strict}


def test_strict_tools_become_strict_functions() -> None:
    function = translate(tools=[strict_tool(STRICT_SCHEMA)])["tools"][0]["function"]
    assert function["strict"] is True and function["parameters"] == STRICT_SCHEMA
    for schema, strict in ((OPTIONAL_SCHEMA, True), (STRICT_SCHEMA, False), (STRICT_SCHEMA, None)):
        function = translate(tools=[strict_tool(schema, strict)])["tools"][0]["function"]
        assert "strict" not in function


@pytest.mark.parametrize(
    ("schema", "ok"),
    [
        (STRICT_SCHEMA, True),
        (OPTIONAL_SCHEMA, False),
        ({"type": "object", "properties": {}, "additionalProperties": False}, True),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, False),
        ({"type": "array", "items": {"type": "string"}}, False),
        (
            {
                "type": "object",
                "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                "required": ["a"],
                "additionalProperties": False,
            },
            True,
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"oneOf": [{"type": "string"}, {"type": "integer"}]}},
                "required": ["a"],
                "additionalProperties": False,
            },
            False,
        ),
        (
            {
                "type": "object",
                "properties": {"n": {"$ref": "#/$defs/node"}},
                "required": ["n"],
                "additionalProperties": False,
                "$defs": {"node": {"type": "object", "properties": {"x": {"type": "integer"}}}},
            },
            False,
        ),
    ],
)
def test_strict_rules(schema: dict[str, Any], ok: bool) -> None:
    assert satisfies_strict_rules(schema) is ok


def test_the_fake_refuses_a_strict_schema_outside_the_rules() -> None:
    """What the gateway avoids above is a real 400: the fake knows it too."""
    body = {
        "model": "gpt-4o",
        "messages": HI,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": OPTIONAL_SCHEMA, "strict": True},
        },
    }
    with pytest.raises(Rejected) as caught:
        validate_request(body)
    assert "Missing 'room'" in caught.value.message and caught.value.param == "response_format"
    function = {"name": "record", "parameters": {"type": "object"}, "strict": True}
    tools_body = {
        "model": "gpt-4o",
        "messages": HI,
        "tools": [{"type": "function", "function": function}],
    }
    with pytest.raises(Rejected) as caught:
        validate_request(tools_body)
    assert "additionalProperties" in caught.value.message


def test_the_fake_checks_response_format_against_the_sdk_types() -> None:
    no_name = {"type": "json_schema", "json_schema": {"schema": STRICT_SCHEMA}}
    with pytest.raises(Rejected) as caught:
        validate_request({"model": "gpt-4o", "messages": HI, "response_format": no_name})
    assert caught.value.param == "response_format.json_schema.name"
    bad_type = {"type": "xml"}
    with pytest.raises(Rejected):
        validate_request({"model": "gpt-4o", "messages": HI, "response_format": bad_type})


def test_the_json_answer_comes_back_as_one_text_block() -> None:
    text = '{"name": "Standup", "attendees": [{"who": "Ana"}]}'
    translator = OpenAIStreamTranslator("msg_1", "gpt-4o")
    completion = render_completion(Answer(content=[text]), "gpt-4o")
    message = accumulate(translator.feed_payload(completion) + translator.finish())
    assert message["content"] == [{"type": "text", "text": text}]
    assert message["stop_reason"] == "end_turn"
