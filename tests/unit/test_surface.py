"""The gateway's table of the Messages API (anthropic/surface.py) against the installed
`anthropic` SDK's request types, GA and beta: a name Anthropic adds shows up here, as a failing
test that names it, before it shows up as a user's 400."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any, Literal, NotRequired, Required, Union, get_args, get_origin

import pytest
from ai_proxy.anthropic import surface
from anthropic.types import ContentBlockParam, ToolUnionParam
from anthropic.types import message_create_params as ga_params
from anthropic.types import tool_result_block_param as ga_tool_result
from anthropic.types.beta import BetaContentBlockParam, BetaToolUnionParam
from anthropic.types.beta import beta_tool_result_block_param as beta_tool_result
from anthropic.types.beta import message_create_params as beta_params
from typing_extensions import is_typeddict

# Names the table keeps that the SDK's request types no longer carry, each with its reason.
NOT_IN_SDK = {
    # The 2.x SDK dropped the sampling fields from its params; the API still takes them and
    # clients built on older SDKs (and curl) still send them.
    "temperature": "sampling field the API still takes",
    "top_p": "sampling field the API still takes",
    "top_k": "sampling field the API still takes",
    # The structured-outputs beta's first spelling, before `output_config.format`; clients
    # built on the SDKs of that beta send it.
    "output_format": "beta spelling of output_config.format",
}


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) in (Required, NotRequired, Annotated):
        tp = get_args(tp)[0]
    return tp


def _members(tp: Any) -> Iterator[Any]:
    tp = _unwrap(tp)
    if get_origin(tp) in (Union, types.UnionType):
        for arg in get_args(tp):
            yield from _members(arg)
    else:
        yield tp


def _type_literals(union: Any) -> set[str]:
    """Every `type` literal of the union's TypedDict members (an optional `type` included)."""
    names: set[str] = set()
    for member in _members(union):
        if not is_typeddict(member):
            continue
        for tp in _members(typing.get_type_hints(member, include_extras=True)["type"]):
            if get_origin(tp) is Literal:
                names.update(get_args(tp))
    return names


def _sdk_request_fields() -> set[str]:
    fields: set[str] = set()
    for module in (ga_params, beta_params):
        for params in (module.MessageCreateParamsStreaming, module.MessageCreateParamsNonStreaming):
            fields.update(typing.get_type_hints(params))
    return fields


SDK_TOOL_TYPES = sorted(_type_literals(ToolUnionParam) | _type_literals(BetaToolUnionParam))

CASES = {
    "REQUEST_FIELDS": (surface.REQUEST_FIELDS, _sdk_request_fields()),
    "CONTENT_BLOCKS": (
        surface.CONTENT_BLOCKS,
        _type_literals(ContentBlockParam) | _type_literals(BetaContentBlockParam),
    ),
    "TOOL_RESULT_CONTENT": (
        surface.TOOL_RESULT_CONTENT,
        _type_literals(ga_tool_result.Content) | _type_literals(beta_tool_result.Content),
    ),
    "TOOL_TYPES": (surface.TOOL_TYPES, {surface.tool_family(t) for t in SDK_TOOL_TYPES}),
}


def test_the_sdk_types_were_read() -> None:
    # Guards the test itself: an SDK reshuffle that hid the types would pass vacuously.
    assert {"messages", "tools", "thinking", "output_config", "stream"} <= CASES["REQUEST_FIELDS"][
        1
    ]
    assert {"text", "tool_use", "tool_result"} <= CASES["CONTENT_BLOCKS"][1]
    assert {"text", "tool_reference"} <= CASES["TOOL_RESULT_CONTENT"][1]
    assert {"custom", "web_search", "mcp_toolset"} <= CASES["TOOL_TYPES"][1]


@pytest.mark.parametrize("table", sorted(CASES))
def test_every_name_the_sdk_knows_is_in_the_table(table: str) -> None:
    ours, sdk = CASES[table]
    missing = sorted(sdk - set(ours))
    assert not missing, f"surface.{table} lacks {missing}: decide what each provider does"


@pytest.mark.parametrize("table", sorted(CASES))
def test_every_name_in_the_table_is_the_sdks(table: str) -> None:
    ours, sdk = CASES[table]
    exceptions = set(NOT_IN_SDK) if table == "REQUEST_FIELDS" else set()
    unknown = sorted(set(ours) - sdk - exceptions)
    assert not unknown, f"surface.{table} has {unknown}, which the installed SDK does not know"


def test_the_exceptions_are_still_exceptions() -> None:
    # Once an SDK carries one again, its exception goes.
    assert not set(NOT_IN_SDK) & CASES["REQUEST_FIELDS"][1]
    assert set(NOT_IN_SDK) <= set(surface.REQUEST_FIELDS)


@pytest.mark.parametrize("tool_type", SDK_TOOL_TYPES)
def test_tool_family_of_every_sdk_tool_type_is_in_the_table(tool_type: str) -> None:
    assert surface.tool_family(tool_type) in surface.TOOL_TYPES


def test_tool_family_of_dated_undated_and_untyped_tools() -> None:
    assert surface.tool_family("web_search_20260318") == "web_search"
    assert surface.tool_family("tool_search_tool_bm25_20251119") == "tool_search_tool_bm25"
    assert surface.tool_family("tool_search_tool_bm25") == "tool_search_tool_bm25"
    assert surface.tool_family("mcp_toolset") == "mcp_toolset"
    assert surface.tool_family(None) == "custom"
