"""Schema-driven fuzzing: schemathesis generates requests from the gateway's own OpenAPI
description (GET /openapi.json) and sends them to the real app on 127.0.0.1; not one may be
answered with a 5xx, and every answer must match the description.

Positive cases follow the schema; some have their model rewritten to one the fake Gemini
serves, so they travel the whole way upstream and back. Negative cases break the schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from ai_proxy.openapi import openapi_document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fakes.gemini import FakeGemini

from .conftest import config_for, running

SCHEMA = schemathesis.openapi.from_dict(openapi_document())
OPERATION = SCHEMA["/v1/messages"]["POST"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases on every run: a CI failure reproduces locally
)


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    with FakeGemini() as gemini, running(config_for(gemini.base_url)) as (base_url, _):
        yield base_url


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def test_the_gateway_serves_its_openapi_description(gateway_url: str) -> None:
    response = httpx.get(gateway_url + "/openapi.json")
    assert response.status_code == 200
    assert response.json() == openapi_document()
    assert response.json()["paths"]["/v1/messages"]["post"]["requestBody"]["required"]


@SETTINGS
@given(case=OPERATION.as_strategy(GenerationMode.POSITIVE), routed=st.booleans())
def test_schema_valid_requests_never_get_a_server_error(
    gateway_url: str, session: requests.Session, case: Any, routed: bool
) -> None:
    if routed and isinstance(case.body, dict):
        case.body["model"] = "gemini-2.5-flash"
        case.body["stream"] = False
    case.call_and_validate(base_url=gateway_url, session=session, checks=CHECKS, timeout=10)


@SETTINGS
@given(case=OPERATION.as_strategy(GenerationMode.NEGATIVE))
def test_schema_invalid_requests_never_get_a_server_error(
    gateway_url: str, session: requests.Session, case: Any
) -> None:
    response = case.call_and_validate(
        base_url=gateway_url, session=session, checks=CHECKS, timeout=10
    )
    assert response.status_code < 500
