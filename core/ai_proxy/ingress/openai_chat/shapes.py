"""Type checks on the client's decoded JSON, each failure an InvalidRequest naming its path.

A Chat Completions body is untrusted JSON: a list where an object belongs must be a 400 that
says where, never a KeyError or TypeError escaping the translator.
"""

from __future__ import annotations

from typing import Any

from ...errors import InvalidRequest


def as_object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest(f"{path}: expected an object, got {_kind(value)}")
    return value


def as_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidRequest(f"{path}: expected an array, got {_kind(value)}")
    return value


def as_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{path}: expected a string, got {_kind(value)}")
    return value


def as_bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(f"{path}: expected a boolean, got {_kind(value)}")
    return value


def as_int(value: Any, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest(f"{path}: expected an integer, got {_kind(value)}")
    return value


def as_number(value: Any, path: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidRequest(f"{path}: expected a number, got {_kind(value)}")
    return float(value)


def check_keys(obj: dict[str, Any], known: frozenset[str], path: str) -> None:
    """Refuse a key the real API does not have: dropping it could change the answer unseen.
    A null counts as absent, since clients echo back a response message's null fields."""
    for key, value in obj.items():
        if key not in known and value is not None:
            raise InvalidRequest(f"{path}.{key}: unknown field, not part of Chat Completions")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
