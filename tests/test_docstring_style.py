"""One docstring style in the product code: Google's ("Args:"), never numpy's sections.

ruff's pydocstyle rules with `convention = "google"` do not reject a numpy-style section
("Parameters" over a line of dashes), so this test does: it reads every docstring of every
product source file (the folders `[tool.setuptools] package-dir` maps) with `ast`.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: A numpy-style section: a section name alone on its line, then a line of only dashes.
NUMPY_SECTION = re.compile(
    r"^[ \t]*(Parameters|Other Parameters|Args|Arguments|Returns|Yields|Receives|Raises|Warns|"
    r"Attributes|Methods|Examples?|Notes?|See Also|References|Warnings?|Todo)[ \t]*:?[ \t]*\n"
    r"[ \t]*-{3,}[ \t]*$",
    re.MULTILINE,
)

_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _product_files() -> list[Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    folders = sorted(set(config["tool"]["setuptools"]["package-dir"].values()))
    excluded = [ROOT / entry for entry in config["tool"]["ruff"].get("extend-exclude", [])]
    return [
        path
        for folder in folders
        for path in sorted((ROOT / folder).rglob("*.py"))
        if not any(path.is_relative_to(skip) for skip in excluded)
    ]


def numpy_style_sections(source: str, filename: str = "<source>") -> list[str]:
    """The docstrings of `source` with a numpy-style section, as "line name: section"."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if not isinstance(node, _DOCUMENTED):
            continue
        docstring = ast.get_docstring(node, clean=False)
        match = NUMPY_SECTION.search(docstring or "")
        if match:
            name = "module" if isinstance(node, ast.Module) else node.name
            line = 1 if isinstance(node, ast.Module) else node.lineno
            found.append(f"{line} {name}: {match.group(1)}")
    return found


def test_the_product_folders_are_found():
    files = _product_files()
    assert any(path.parts[-2:] == ("core", "runconfig.py") for path in files)
    assert not any("generated" in path.parts for path in files)


def test_no_product_docstring_has_a_numpy_style_section():
    offenders = [
        f"{path.relative_to(ROOT)}:{finding}"
        for path in _product_files()
        for finding in numpy_style_sections(path.read_text(encoding="utf-8"), str(path))
    ]
    assert not offenders, "numpy-style docstring sections (use Google's 'Args:'):\n" + "\n".join(
        offenders
    )


@pytest.mark.parametrize(
    "docstring",
    [
        "Parameters\n    ----------\n    x : int",
        "Returns\n    -------\n    int",
        "Raises\n    ------\n    ValueError",
        "Attributes\n    ----------\n    x",
    ],
)
def test_a_numpy_style_section_is_found(docstring: str):
    source = f'def scaled(x):\n    """Scaled.\n\n    {docstring}\n    """\n'
    assert numpy_style_sections(source) == [f"1 scaled: {docstring.split()[0]}"]


def test_google_sections_and_dashes_in_prose_are_not_numpy_sections():
    source = (
        'class Table:\n    """A table.\n\n    Attributes:\n        rows: its rows.\n\n'
        '    Plain text\n    ----------\n    under a heading that is no section.\n    """\n'
    )
    assert numpy_style_sections(source) == []
