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
                "type": {
                    "enum": [
                        "invalid_request_error",
                        "authentication_error",
                        "permission_error",
                        "not_found_error",
                        "request_too_large",
                        "rate_limit_error",
                        "api_error",
                        "timeout_error",
                        "overloaded_error",
                    ]
                },
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

_ERROR_STATUSES = {
    "400": "Invalid JSON, schema or unsupported feature",
    "401": "Missing or invalid client key",
    "403": "Upstream refused the gateway's provider key",
    "404": "Model not routed to any provider",
    "405": "Wrong method",
    "413": "Request body over server.max_body_bytes",
    "429": "Client key over its rate, or upstream rate limit",
    "500": "Upstream internal error, or provider without a key",
    "502": "Upstream unreachable or answered something unusable",
    "504": "Upstream timed out",
    "529": "Upstream overloaded, or limits.max_concurrent_upstream reached",
}


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
    for status, description in _ERROR_STATUSES.items():
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
