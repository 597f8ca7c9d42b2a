"""What every `fedscore` command prints on: one stderr console, one way to fail."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

from fedscore.core.errors import FedscoreError

# Logs and CI keep whole lines: a console that is not a terminal gets a wide fixed width.
console = Console(stderr=True, width=None if sys.stderr.isatty() else 140)


def fail(error: FedscoreError) -> NoReturn:
    """Print the error and exit with status 2."""
    # No markup (messages contain "[section]" names) and no hard wrapping (paths stay whole).
    console.print("error:", style="bold red", end=" ")
    console.print(str(error), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)
