"""No node imports the demo: `fedscore.demo` (and Faker) stays off institutions' machines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE_FOLDERS = ("clients", "server", "privacy", "core", "deployment", "scoring")


def imported_modules(source: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports in functions count)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), str(source))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


@pytest.mark.parametrize("folder", NODE_FOLDERS)
def test_no_node_module_imports_the_demo(folder):
    offending = {
        str(source.relative_to(ROOT)): sorted(
            m
            for m in imported_modules(source)
            if m in ("fedscore.demo", "faker") or m.startswith(("fedscore.demo.", "faker."))
        )
        for source in (ROOT / folder).rglob("*.py")
    }
    assert {path: found for path, found in offending.items() if found} == {}
