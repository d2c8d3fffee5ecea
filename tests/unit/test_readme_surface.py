"""The README's translation tables are the surface table, rendered: they cannot drift."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_renderer() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "surface_table", ROOT / "scripts/surface_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tables_match_the_surface_table() -> None:
    renderer = load_renderer()
    readme = (ROOT / "README.md").read_text()
    assert renderer.BEGIN in readme, "README.md lacks the generated surface tables"
    assert renderer.readme_with_tables(readme) == readme, (
        "README.md is out of date: run `python scripts/surface_table.py --write`"
    )


def test_every_table_row_names_all_three_routes() -> None:
    rendered = load_renderer().render()
    rows = [line for line in rendered.splitlines() if line.startswith("| `")]
    assert len(rows) > 60  # fields, blocks, tool_result content, tools
    assert all(line.count("|") == 6 for line in rows)
