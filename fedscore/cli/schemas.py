"""`fedscore schema`: the configuration documents' JSON Schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fedscore.cli.output import console, fail
from fedscore.core.errors import FedscoreError

schema_app = typer.Typer(help="JSON Schemas of fedscore's configuration documents.")


@schema_app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="Folder for the <document>.schema.json files.")] = Path(
        "schemas"
    ),
) -> None:
    """Write the JSON Schema of every configuration document, to complete and check TOML files.

    One schema per document (node, server, run, task, scoring config), for editors to complete and
    check TOML files with.
    """
    from fedscore.config_schemas import export_schemas

    try:
        written = export_schemas(out)
    except (FedscoreError, OSError) as error:
        fail(FedscoreError(str(error)))
    for path in written:
        console.print(f"wrote {path}", markup=False)


def register(app: typer.Typer) -> None:
    """Add the `schema` commands to the `fedscore` command line."""
    app.add_typer(schema_app, name="schema")
