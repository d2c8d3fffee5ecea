"""The routes served without a client key: the base URL and the OpenAPI description."""

from __future__ import annotations

from .. import openapi as description
from ..observability import RequestRecord
from ..plain import CoreRequest, CoreResponse, json_response


async def openapi(request: CoreRequest, record: RequestRecord) -> CoreResponse:
    """GET /openapi.json"""
    return json_response(description.openapi_json())


async def root(request: CoreRequest, record: RequestRecord) -> CoreResponse:
    """Any method on / : Claude Code probes the base URL with HEAD / before its first request."""
    return json_response(b'{"status":"ok"}')
