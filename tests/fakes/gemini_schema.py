"""Check a REST body against Gemini's published v1beta protos, and word problems like Google.

Google's front end parses the JSON into the request proto before the model sees it, so an
unknown field or a wrong type fails with 400 INVALID_ARGUMENT and a google.rpc.BadRequest
listing every violation. Its wording, from real answers:

    Invalid JSON payload received. Unknown name "foo" at 'contents[0].parts[0]': Cannot find field.
    Invalid JSON payload received. Unknown name "type" at 'x': Proto field is not repeating, ...
    Invalid value at 'generation_config.seed' (TYPE_INT32), 3812238859
    Invalid value at 'contents[0].parts[0]' (oneof), oneof field 'data' is already set. ...

Paths use the proto (snake_case) names; a map entry is `properties[3].value`. protobuf's own
ParseDict reports only the first problem, in its own words, so a walk over the descriptors
produces Google's list and ParseDict stays on as a second opinion for anything it misses.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from google.ai.generativelanguage_v1beta.types import generative_service
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor

Violation = tuple[str | None, str]  # (field path, description); no path for the root object

GENERATE_CONTENT_REQUEST: Descriptor = generative_service.GenerateContentRequest.pb().DESCRIPTOR
COUNT_TOKENS_REQUEST: Descriptor = generative_service.CountTokensRequest.pb().DESCRIPTOR

# Fields the live API takes that the pinned descriptors (google-ai-generativelanguage 0.12.1)
# predate: message -> {JSON name: allowed values}. Without this, valid requests would fail.
NEWER_FIELDS: dict[str, dict[str, frozenset[str]]] = {
    "google.ai.generativelanguage.v1beta.ThinkingConfig": {
        "thinkingLevel": frozenset(
            {"THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH"}
        ),
    },
}

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
_TYPE_NAMES: dict[int, str] = {
    value: name
    for name, value in vars(FieldDescriptor).items()
    if name.startswith("TYPE_") and isinstance(value, int)
}
_DURATION = re.compile(r"-?\d+(\.\d{1,9})?s")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_BASE64_URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_FLOAT_WORDS = frozenset({"NaN", "Infinity", "-Infinity"})
_WRAPPERS = {
    f"google.protobuf.{name}Value"
    for name in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
}


def schema_violations(body: Any, descriptor: Descriptor) -> list[Violation]:
    """Every way `body` fails to parse as `descriptor`'s message, worded like Google."""
    if not isinstance(body, dict):
        return [
            (
                None,
                'Invalid JSON payload received. Unknown name "": Root element must be a message.',
            )
        ]
    violations: list[Violation] = []
    _check_message(body, descriptor, "", violations)
    if not violations:
        violations = _protobuf_opinion(body, descriptor)
    return violations


def _check_message(obj: dict[str, Any], desc: Descriptor, path: str, out: list[Violation]) -> None:
    oneofs_set: dict[str, str] = {}
    for key, value in obj.items():
        field = desc.fields_by_camelcase_name.get(key) or desc.fields_by_name.get(key)
        if field is None:
            _check_newer_field(desc, key, value, path, out)
            continue
        if value is None:  # JSON null means "not set" in proto3 JSON
            continue
        oneof = field.containing_oneof
        if oneof is not None and not (oneof.name.startswith("_") and len(oneof.fields) == 1):
            if oneof.name in oneofs_set:
                out.append(
                    (
                        path or None,
                        f"Invalid value at '{path}' (oneof), oneof field '{oneof.name}' is "
                        f"already set. Cannot set '{key}'",
                    )
                )
                continue
            oneofs_set[oneof.name] = key
        _check_field(field, key, value, path, out)


def _check_newer_field(
    desc: Descriptor, key: str, value: Any, path: str, out: list[Violation]
) -> None:
    newer = NEWER_FIELDS.get(desc.full_name, {})
    camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)
    if camel in newer:
        if value is not None and value not in newer[camel]:
            snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
            where = _join(path, snake)
            out.append((where, f"Invalid value at '{where}' ({desc.full_name}), {_show(value)}"))
        return
    at = f" at '{path}'" if path else ""
    out.append(
        (
            path or None,
            f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.',
        )
    )


def _check_field(
    field: FieldDescriptor, key: str, value: Any, parent: str, out: list[Violation]
) -> None:
    path = _join(parent, field.name)
    entry = field.message_type
    if entry is not None and entry.GetOptions().map_entry:
        if not isinstance(value, dict):
            out.append(_invalid(path, _label(field), value))
            return
        value_field = entry.fields_by_name["value"]
        for index, item in enumerate(value.values()):
            if item is not None:
                _check_value(value_field, item, f"{path}[{index}].value", out)
        return
    if field.is_repeated:
        if not isinstance(value, list):
            out.append(_invalid(path, _label(field), value))
            return
        for index, item in enumerate(value):
            _check_value(field, item, f"{path}[{index}]", out)
        return
    if isinstance(value, list) and not _takes_any_json(field):
        at = f" at '{parent}'" if parent else ""
        out.append(
            (
                parent or None,
                f'Invalid JSON payload received. Unknown name "{key}"{at}: '
                "Proto field is not repeating, cannot start list.",
            )
        )
        return
    _check_value(field, value, path, out)


def _check_value(field: FieldDescriptor, value: Any, path: str, out: list[Violation]) -> None:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        _check_message_value(field.message_type, value, path, out)
    elif kind == FieldDescriptor.TYPE_ENUM:
        enum = field.enum_type
        known = isinstance(value, str) and value in enum.values_by_name
        if not known and not (isinstance(value, int) and not isinstance(value, bool)):
            out.append(_invalid(path, f"type.googleapis.com/{enum.full_name}", value))
    elif kind == FieldDescriptor.TYPE_BYTES:
        if not isinstance(value, str):
            out.append(_invalid(path, "TYPE_BYTES", value))
        elif not _is_base64(value):
            out.append((path, f"Invalid value at '{path}' (TYPE_BYTES), {_base64_failure(value)}"))
    elif not _scalar_ok(kind, value):
        out.append(_invalid(path, _TYPE_NAMES.get(kind, "TYPE_UNKNOWN"), value))


def _check_message_value(desc: Descriptor, value: Any, path: str, out: list[Violation]) -> None:
    name = desc.full_name
    label = f"type.googleapis.com/{name}"
    ok: bool
    if name == "google.protobuf.Value":
        return  # any JSON at all
    if name in ("google.protobuf.Struct", "google.protobuf.Any"):
        ok = isinstance(value, dict)
    elif name == "google.protobuf.ListValue":
        ok = isinstance(value, list)
    elif name == "google.protobuf.Duration":
        ok = isinstance(value, str) and _DURATION.fullmatch(value) is not None
    elif name in ("google.protobuf.Timestamp", "google.protobuf.FieldMask"):
        ok = isinstance(value, str)
    elif name in _WRAPPERS:
        _check_value(desc.fields_by_name["value"], value, path, out)
        return
    elif isinstance(value, dict):
        _check_message(value, desc, path, out)
        return
    else:
        ok = False
    if not ok:
        out.append(_invalid(path, label, value))


def _scalar_ok(kind: int, value: Any) -> bool:
    if kind == FieldDescriptor.TYPE_STRING:
        return isinstance(value, str)
    if kind == FieldDescriptor.TYPE_BOOL:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        if isinstance(value, int | float):
            return True
        if isinstance(value, str) and value not in _FLOAT_WORDS:
            try:
                return math.isfinite(float(value))
            except ValueError:
                return False
        return isinstance(value, str) and value in _FLOAT_WORDS
    low, high = _INT_RANGES.get(kind, (-(2**63), 2**64 - 1))
    integral = (
        isinstance(value, int)
        or (isinstance(value, float) and value.is_integer())
        or (isinstance(value, str) and re.fullmatch(r"-?\d+", value) is not None)
    )
    return integral and low <= int(value) <= high


def _takes_any_json(field: FieldDescriptor) -> bool:
    message = field.message_type
    return message is not None and message.full_name in (
        "google.protobuf.Value",
        "google.protobuf.ListValue",
    )


def _is_base64(text: str) -> bool:
    """Standard or URL-safe alphabet, padding optional: the front end takes all of them."""
    if _BASE64.fullmatch(text) is None and _BASE64_URL.fullmatch(text) is None:
        return False
    return len(text.rstrip("=")) % 4 != 1


def _protobuf_opinion(body: dict[str, Any], descriptor: Descriptor) -> list[Violation]:
    """ParseDict on the real message class, for anything the walk above does not know."""
    message = message_factory.GetMessageClass(descriptor)()
    try:
        json_format.ParseDict(body, message, ignore_unknown_fields=False)
    except json_format.ParseError as error:
        text = str(error)
        if any(f'"{name}"' in text for fields in NEWER_FIELDS.values() for name in fields):
            return []
        match = re.search(r' at "?[A-Za-z]+Request\.?([^"\s]*)"?', text)
        field = match.group(1) if match else None
        first_line = text.splitlines()[0].rstrip(".")
        return [(field or None, f"Invalid JSON payload received. {first_line}.")]
    return []


def _base64_failure(value: str) -> str:
    return f"Base64 decoding failed for {_show(value)}"


def _invalid(path: str, label: str, value: Any) -> Violation:
    return (path, f"Invalid value at '{path}' ({label}), {_show(value)}")


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _label(field: FieldDescriptor) -> str:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return f"type.googleapis.com/{field.message_type.full_name}"
    if field.type == FieldDescriptor.TYPE_ENUM:
        return f"type.googleapis.com/{field.enum_type.full_name}"
    return _TYPE_NAMES.get(field.type, "TYPE_UNKNOWN")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
