"""The documentation: it builds strictly, its references match the live code, its paths exist.

The site is built once (`mkdocs build --strict`, the same as `make docs`) into a temporary
folder. The generated CLI reference must list every command and option of the live Typer app
(found through `[project.scripts]`), the generated schema references every field of every
configuration model, and every repository path or `fedscore.*` name the pages (and the README)
mention must exist, so a renamed module breaks this test rather than the docs.
"""

from __future__ import annotations

import html
import importlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest
import typer

pytestmark = pytest.mark.slow  # builds the documentation site

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
MKDOCS = Path(sys.executable).parent / "mkdocs"

with (REPO / "pyproject.toml").open("rb") as _file:
    PYPROJECT = tomllib.load(_file)

#: First segments of the repository paths the docs may name: the package folders, plus the
#: folders that are not packages. A path under any other first segment (`state/`, `keys/`,
#: `DIR/runs/…`) is a path at a node or in the demo's output, not in the repository.
REPOSITORY_FOLDERS = {
    *PYPROJECT["tool"]["setuptools"]["package-dir"].values(),
    "demo",
    "tests",
    "notebooks",
    "benchmarks",
    "protos",
    "docs",
    ".ci",
}

_FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_PATH = re.compile(r"^\.?[\w-]+(?:/[\w.*-]+)*/?(?:…)?$")
_PATH_IN_TEXT = re.compile(r"(?<![\w./-])(\.?[\w-]+/(?:[\w.*-]+/)*[\w.*-]*)")
_DOTTED = re.compile(r"^fedscore(?:\.\w+)+(?::\w+)?$")
_TEST_NAME = re.compile(r"^test_\w+$")


def _pages() -> list[Path]:
    """Every hand-written page, and the README (it links into them and shares the picture)."""
    pages = sorted(path for path in DOCS.rglob("*.md") if "gen" not in path.parts)
    return [*pages, REPO / "README.md"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built as `make docs` builds it."""
    site_dir = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "FLWR_TELEMETRY_ENABLED": "0",
        "NO_MKDOCS_2_WARNING": "1",
        "DISABLE_MKDOCS_2_WARNING": "true",
    }
    result = subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(site_dir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return site_dir


def _page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def _section(page: str, anchor: str, anchors: list[str]) -> str:
    """The HTML from the heading with id `anchor` to the next heading of another anchor."""
    start = page.index(f'id="{anchor}"')
    ends = [page.find(f'id="{other}"', start + 1) for other in anchors if other != anchor]
    return page[start : min([end for end in ends if end > start], default=len(page))]


def test_the_site_builds_strictly(site):
    for name in ("index.html", "architecture/index.html", "reference/cli/index.html"):
        assert (site / name).is_file(), name


def _live_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command of the app behind the `fedscore` console script, depth first."""
    module_name, _, attribute = PYPROJECT["project"]["scripts"]["fedscore"].partition(":")
    root = typer.main.get_command(getattr(importlib.import_module(module_name), attribute))
    found = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        found.append((path, command))
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                if not sub.hidden:
                    walk(sub, (*path, name))

    walk(root, ("fedscore",))
    return found


def test_the_cli_reference_lists_every_command_and_option(site):
    page = _page(site, "reference/cli")
    commands = _live_commands()
    anchors = ["-".join(path) for path, _ in commands]
    assert len(commands) > 10
    for (path, command), anchor in zip(commands, anchors, strict=True):
        assert f'id="{anchor}"' in page, f"{' '.join(path)} is missing from the CLI reference"
        section = _section(page, anchor, anchors)
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            names = [*param.opts, *getattr(param, "secondary_opts", [])]
            if not isinstance(param, click.Option):
                names = [(param.name or "").upper()]
            for name in names:
                assert html.escape(name) in section, f"{' '.join(path)}: {name} is not documented"


def _live_documents() -> dict[str, dict]:
    documents = importlib.import_module("fedscore.config_schemas").DOCUMENTS
    return {name: schema_of() for name, (_, schema_of) in documents.items()}


def test_the_schema_references_list_every_field_of_every_model(site):
    pages = _page(site, "reference/task-schema") + _page(site, "reference/configuration")
    documents = _live_documents()
    assert "task-schema" in documents
    assert 'id="task-schema-schemadocument"' in _page(site, "reference/task-schema")
    for document, schema in documents.items():
        models = {str(schema.get("title", document)): schema, **schema.get("$defs", {})}
        anchors = [f"{document}-{name.lower()}" for name in models]
        for (name, model), anchor in zip(models.items(), anchors, strict=True):
            assert f'id="{anchor}"' in pages, f"{document}: {name} is not documented"
            section = _section(pages, anchor, anchors)
            for field in model.get("properties", {}):
                assert f"<code>{html.escape(field)}</code>" in section, (
                    f"{document}: {name}.{field} is not documented"
                )


def _mentions(text: str) -> list[str]:
    """Inline code spans outside fenced blocks, and the paths inside mermaid diagrams."""
    found = []
    for fence in _FENCE.finditer(text):
        if fence["info"].strip() == "mermaid":
            found += _PATH_IN_TEXT.findall(fence["body"])
    found += _INLINE_CODE.findall(_FENCE.sub("", text))
    return found


def _repository_path(span: str) -> str | None:
    """The repository path a code span names, if it names one."""
    span = span.strip()
    if "<" in span or not _PATH.match(span) or "/" not in span:
        return None
    if span.split("/", 1)[0] not in REPOSITORY_FOLDERS:
        return None
    return span.split("…", 1)[0]


def _missing(path: str) -> bool:
    if "*" in path:
        return not any(REPO.glob(path))
    return not (REPO / path).exists()


def _proto_packages() -> list[str]:
    packages = []
    for proto in (REPO / "protos").glob("*.proto"):
        packages += re.findall(r"^package\s+([\w.]+)\s*;", proto.read_text(), re.MULTILINE)
    return packages


def _resolves(name: str) -> bool:
    """Whether `fedscore.x.y[:attr]` is an importable module or an attribute of one."""
    dotted = name.replace(":", ".")
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                target = getattr(target, attribute)
        except AttributeError:
            return False
        return True
    return False


def test_every_path_and_module_the_docs_name_exists():
    tests = "\n".join(path.read_text(encoding="utf-8") for path in (REPO / "tests").glob("*.py"))
    protos = _proto_packages()
    problems = []
    checked = 0
    for page in _pages():
        where = page.relative_to(REPO)
        for span in _mentions(page.read_text(encoding="utf-8")):
            paths = [path for path in map(_repository_path, span.split()) if path is not None]
            if paths:
                checked += 1
                problems += [f"{where}: `{p}` does not exist" for p in paths if _missing(p)]
            elif _DOTTED.match(span) and not any(span.startswith(p + ".") for p in protos):
                checked += 1
                if not _resolves(span):
                    problems.append(f"{where}: `{span}` is not importable")
            elif _TEST_NAME.match(span):
                checked += 1
                if f"def {span}(" not in tests:
                    problems.append(f"{where}: test `{span}` does not exist")
    assert checked > 100
    assert not problems, "\n".join(problems)


def test_the_readme_is_short_and_shows_the_architecture_diagram():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    architecture = (DOCS / "architecture.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    diagrams = [
        [fence["body"] for fence in _FENCE.finditer(text) if fence["info"].strip() == "mermaid"]
        for text in (readme, architecture)
    ]
    assert diagrams[1] and diagrams[0] == diagrams[1], "README and architecture.md differ"
    for line in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (REPO / line).is_file(), line
