from __future__ import annotations

from collections.abc import Iterator

import pytest

from .upstream import GeminiStub


@pytest.fixture
def gemini() -> Iterator[GeminiStub]:
    stub = GeminiStub()
    with stub.server:
        yield stub
