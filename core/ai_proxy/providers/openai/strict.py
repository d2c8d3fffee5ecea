"""Structured outputs on OpenAI: `response_format` json_schema and strict function tools.

OpenAI's strict mode accepts a narrower JSON Schema than Anthropic's: every object must say
`additionalProperties: false` and list every property in `required` (Anthropic allows
optional properties), the root must be an object, and some keywords are refused outright.
OpenAI answers a strict schema outside those rules with a 400 ("Invalid schema for
response_format ..."), so such a schema is sent with `strict: false`: the model is still
asked for that JSON, without OpenAI's guarantee. Rewriting optional properties as required
and nullable would change what the client receives (nulls instead of absent keys).
"""

from __future__ import annotations

from typing import Any

# Keywords OpenAI refuses in a strict schema.
UNSUPPORTED_KEYWORDS = frozenset(
    {
        "allOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "dependentRequired",
        "dependentSchemas",
        "patternProperties",
        "propertyNames",
        "unevaluatedProperties",
        "minProperties",
        "maxProperties",
    }
)
# Where subschemas sit: keyword -> a schema, or a list / map of schemas.
_SINGLE = ("items", "additionalProperties")
_LISTS = ("anyOf", "prefixItems")
_MAPS = ("properties", "$defs", "definitions")
RESPONSE_FORMAT_NAME = "response"


def to_response_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": RESPONSE_FORMAT_NAME,
            "schema": schema,
            "strict": satisfies_strict_rules(schema),
        },
    }


def satisfies_strict_rules(schema: dict[str, Any]) -> bool:
    """Whether OpenAI's strict mode takes `schema` as it is (the root must be an object)."""
    return schema.get("type") == "object" and "anyOf" not in schema and _strict(schema)


def _strict(schema: Any) -> bool:
    if isinstance(schema, bool):
        return True  # `true`/`false` schemas, e.g. additionalProperties: false
    if not isinstance(schema, dict):
        return False
    if UNSUPPORTED_KEYWORDS.intersection(schema):
        return False
    if _is_object(schema):
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False:
            return False
        if not isinstance(properties, dict) or set(schema.get("required") or ()) != set(properties):
            return False
    return all(_strict(sub) for sub in _subschemas(schema))


def _is_object(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind)


def _subschemas(schema: dict[str, Any]) -> list[Any]:
    found: list[Any] = [schema[key] for key in _SINGLE if key in schema]
    for key in _LISTS:
        value = schema.get(key)
        found.extend(value if isinstance(value, list) else [])
    for key in _MAPS:
        value = schema.get(key)
        found.extend(value.values() if isinstance(value, dict) else [])
    return found
