"""Check a request body against the `anthropic` package's published request TypedDicts.

The SDK's param types are written for type checkers, not for validation, and three things in
them defeat a plain `TypeAdapter`:

- `Iterable[...]` fields validate lazily (pydantic returns an iterator), so nothing inside
  `messages` or `tools` would be checked;
- unions of content blocks also admit the SDK's *response* models (BaseModels that allow
  extra keys), so an unknown key in a block would pass;
- a TypedDict cannot take `extra="forbid"` from outside.

So each TypedDict is rebuilt once, recursively, as a strict twin: iterables become lists,
response models and file-object types leave the unions, unions whose members all carry a
required `type` literal become discriminated (for errors that name the right branch), and
every TypedDict forbids unknown keys, as the real API does ("Extra inputs are not permitted").
"""

from __future__ import annotations

import collections.abc
import os
import types
import typing
from functools import cache
from typing import Annotated, Any, Literal, NotRequired, Required, Union, get_args, get_origin

from anthropic.types import message_count_tokens_params, message_create_params
from anthropic.types.beta import message_count_tokens_params as beta_count_tokens_params
from anthropic.types.beta import message_create_params as beta_create_params
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from typing_extensions import TypedDict, is_typeddict

_STRICT = ConfigDict(extra="forbid", strict=True)
_DROPPED = object()
_LIST_ORIGINS = {
    collections.abc.Iterable,
    collections.abc.Sequence,
    collections.abc.Collection,
    list,
    tuple,
}


def _is_dropped(tp: Any) -> bool:
    """Response models and file objects: valid for the SDK's typing, never a JSON request."""
    origin = get_origin(tp) or tp
    if isinstance(origin, type):
        if issubclass(origin, BaseModel | os.PathLike):
            return True
        if origin in (typing.IO, typing.BinaryIO):
            return True
    return origin is typing.IO


def _strict(tp: Any) -> Any:
    if tp is object or tp is Any:
        return Any
    if is_typeddict(tp):
        return _strict_typeddict(tp)
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        return _strict(args[0])
    if origin in (Required, NotRequired):
        return _strict(args[0])
    if origin is Literal or tp in (str, int, float, bool, type(None)):
        return tp
    if origin in (Union, types.UnionType):
        members = [_strict(arg) for arg in args if not _is_dropped(arg)]
        members = [member for member in members if member is not _DROPPED]
        if not members:
            return _DROPPED  # a union of response models only (ContentBlock)
        if len(members) == 1:
            return members[0]
        union: Any = Union[tuple(members)]  # noqa: UP007 - built from a runtime tuple
        if all(_has_type_tag(member) for member in members):
            return Annotated[union, Field(discriminator="type")]
        return union
    if origin in _LIST_ORIGINS or (
        isinstance(origin, type) and getattr(origin, "__name__", "") == "SequenceNotStr"
    ):
        return list[_strict(args[0])] if args else list[Any]  # type: ignore[misc]
    if origin in (dict, collections.abc.Mapping) or tp is dict:
        key, value = args or (str, Any)
        return dict[_strict(key), _strict(value)]  # type: ignore[misc]
    if isinstance(origin, type) and origin.__name__ == "SequenceNotStr":
        return list[_strict(args[0])]  # type: ignore[misc]
    raise TypeError(f"anthropic_schema: no strict form for {tp!r}")


def _has_type_tag(tp: Any) -> bool:
    if not is_typeddict(tp):
        return False
    hints = typing.get_type_hints(tp, include_extras=True)
    return (
        "type" in hints
        and _required_keys(tp)["type"]
        and get_origin(_unwrap(hints["type"])) is Literal
    )


def _required_keys(cls: Any) -> dict[str, bool]:
    """Whether each key is required. The SDK's modules use `from __future__ import
    annotations`, so the class's own `__required_keys__` cannot be trusted: the answer is the
    `Required[...]`/`NotRequired[...]` wrapper if any, else the totality of the class in the
    hierarchy that declared the key."""
    hints = typing.get_type_hints(cls, include_extras=True)
    declared_total = _declared_totality(cls)
    required = {}
    for name, hint in hints.items():
        while get_origin(hint) is Annotated:
            hint = get_args(hint)[0]
        if get_origin(hint) is Required:
            required[name] = True
        elif get_origin(hint) is NotRequired:
            required[name] = False
        else:
            required[name] = declared_total.get(name, True)
    return required


def _declared_totality(cls: Any) -> dict[str, bool]:
    """key -> `total` of the TypedDict that declared it (a TypedDict's annotations already
    hold its bases' keys, and its MRO does not list the base TypedDicts: walk the bases)."""
    totality: dict[str, bool] = {}
    for base in getattr(cls, "__orig_bases__", ()):
        if is_typeddict(base):
            totality.update(_declared_totality(base))
    for name in cls.__annotations__:
        totality.setdefault(name, bool(cls.__total__))
    return totality


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) in (Required, NotRequired, Annotated):
        tp = get_args(tp)[0]
    return tp


@cache
def _strict_typeddict(cls: type) -> type:
    hints = typing.get_type_hints(cls, include_extras=True)
    required = _required_keys(cls)
    fields = {
        name: (Required if required[name] else NotRequired)[_strict(hint)]
        for name, hint in hints.items()
    }
    twin: type = TypedDict(cls.__name__, fields)  # type: ignore[misc]
    twin.__pydantic_config__ = _STRICT  # type: ignore[attr-defined]
    return twin


@cache
def _adapter(tp: type) -> TypeAdapter[Any]:
    return TypeAdapter(_strict(tp))


def _request_type(endpoint: Literal["messages", "count_tokens"], stream: bool, beta: bool) -> type:
    if endpoint == "count_tokens":
        module: Any = beta_count_tokens_params if beta else message_count_tokens_params
        return module.MessageCountTokensParams  # type: ignore[no-any-return]
    module = beta_create_params if beta else message_create_params
    return module.MessageCreateParamsStreaming if stream else module.MessageCreateParamsNonStreaming  # type: ignore[no-any-return]


def request_problem(
    body: Any, endpoint: Literal["messages", "count_tokens"], *, beta: bool = False
) -> str | None:
    """None when the SDK's types accept `body`, else one line naming the field, like the API."""
    stream = isinstance(body, dict) and body.get("stream") is True
    try:
        _adapter(_request_type(endpoint, stream, beta)).validate_python(body)
    except ValidationError as exc:
        return describe(exc, body)
    return None


def describe(exc: ValidationError, body: Any) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    # Each union branch reports its own errors; the deepest path is the branch the body meant.
    error = max(errors, key=lambda e: len(_path(e, body)))
    path = ".".join(_path(error, body)) or "body"
    if error["type"] == "extra_forbidden":
        return f"{path}: Extra inputs are not permitted"
    if error["type"] == "missing":
        return f"{path}: Field required"
    return f"{path}: {error['msg']}"


def _path(error: ErrorDetails, body: Any) -> list[str]:
    """The error's location in the body's own keys and indexes. pydantic's loc also holds
    labels (TypedDict names, discriminator tags, `list[...]`): walking the body tells them
    apart, since a label is never a key or index of the node it follows."""
    parts: list[str] = []
    node = body
    tagged: object = None
    for part in error["loc"]:
        if isinstance(node, dict) and node is not tagged and part == node.get("type"):
            tagged = node  # a discriminator tag, which comes before the node's own keys
            continue
        if _has(node, part):
            node = node[part]
        elif error["type"] in ("extra_forbidden", "missing") and part == error["loc"][-1]:
            pass  # the unknown or missing key itself
        else:
            continue
        parts.append(str(part))
    return parts


def _has(node: Any, part: object) -> bool:
    if isinstance(node, dict):
        return isinstance(part, str) and part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
