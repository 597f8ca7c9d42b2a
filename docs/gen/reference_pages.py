"""The generated reference pages: the CLI from the live Typer app, the configs from pydantic.

`gen_reference.py` (the mkdocs-gen-files script) writes these pages at every build, and
`tests/test_docs.py` checks the built pages against the same live objects, so the
reference can never describe a command, an option or a field that no longer exists.
Nothing here is imported by fedscore itself.
"""

from __future__ import annotations

from cli_reference import live_commands, render_cli_page
from schema_reference import live_documents, render_config_page, render_schema_page

#: The pages this module writes, relative to docs/.
CLI_PAGE = "reference/cli.md"
SCHEMA_PAGE = "reference/task-schema.md"
CONFIG_PAGE = "reference/configuration.md"


def pages() -> dict[str, str]:
    """Every generated page: path under docs/ → Markdown."""
    documents = live_documents()
    return {
        CLI_PAGE: render_cli_page(live_commands()),
        SCHEMA_PAGE: render_schema_page(documents),
        CONFIG_PAGE: render_config_page(documents),
    }
