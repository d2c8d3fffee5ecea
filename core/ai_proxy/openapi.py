"""GET /openapi.json: an OpenAPI 3.1 description of what this gateway serves.

Generated from the same pydantic model that validates requests, so it cannot drift from the
validation, and built once on first use (then served from bytes). Schema-driven testers
(schemathesis) and client generators read it.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from .anthropic.models import MessagesRequest
from .errors import ERROR_CLASSES

REF = "#/components/schemas/{model}"

_ERROR = {
    "type": "object",
    "required": ["type", "error"],
    "properties": {
        "type": {"const": "error"},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"enum": list(dict.fromkeys(c.error_type for c in ERROR_CLASSES))},
                "message": {"type": "string"},
            },
        },
    },
}

_MESSAGE = {
    "type": "object",
    "required": ["id", "type", "role", "content", "model", "stop_reason", "usage"],
    "properties": {
        "id": {"type": "string"},
        "type": {"const": "message"},
        "role": {"const": "assistant"},
        "content": {"type": "array", "items": {"type": "object"}},
        "model": {"type": "string"},
        "stop_reason": {"type": ["string", "null"]},
        "stop_sequence": {"type": ["string", "null"]},
        "usage": {"type": "object"},
    },
}

# Statuses a class answers besides its own: from ai_proxy.routes and from_upstream_status.
_OTHER_STATUSES = {405: "Wrong method", 500: "Upstream internal error"}


def _error_statuses() -> dict[str, str]:
    """Each status the tree (ai_proxy.errors) answers with, and what it means."""
    meanings: dict[int, list[str]] = {}
    for cls in ERROR_CLASSES:
        meanings.setdefault(cls.status, []).append(cls.summary)
    for status, meaning in _OTHER_STATUSES.items():
        meanings.setdefault(status, []).insert(0, meaning)
    return {str(status): ", or ".join(meanings[status]) for status in sorted(meanings)}


@functools.cache
def openapi_json() -> bytes:
    return orjson.dumps(openapi_document())


def openapi_document() -> dict[str, Any]:
    request_schema = MessagesRequest.model_json_schema(ref_template=REF)
    schemas: dict[str, Any] = request_schema.pop("$defs", {})
    schemas["MessagesRequest"] = request_schema
    schemas["Message"] = _MESSAGE
    schemas["Error"] = _ERROR
    error_schema = {"$ref": REF.format(model="Error")}
    error_response = {"content": {"application/json": {"schema": error_schema}}}
    responses: dict[str, Any] = {
        "200": {
            "description": "The assistant's message, or its SSE stream when `stream` is true",
            "content": {
                "application/json": {"schema": {"$ref": REF.format(model="Message")}},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        }
    }
    for status, description in _error_statuses().items():
        responses[status] = {"description": description, **error_response}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ai-proxy", "version": "1"},
        "paths": {
            "/v1/messages": {
                "post": {
                    "operationId": "createMessage",
                    "parameters": [
                        {
                            "name": "anthropic-version",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": REF.format(model="MessagesRequest")}
                            }
                        },
                    },
                    "responses": responses,
                }
            }
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"apiKey": []}, {"bearer": []}],
    }
