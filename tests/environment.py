"""The process environment changed for a while: what a gateway reads its platform's
credentials from while it starts (the clouds' libraries read environment variables)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def patched_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """`values` set (None: unset) for the block, each restored to what it was after."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            _set(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set(name, value)


def _set(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
