"""What every `fedscore` command prints on: one stderr console, one way to fail."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

import typer
from rich.console import Console

from fedscore.core.errors import FedscoreError

# Logs and CI keep whole lines: a console that is not a terminal gets a wide fixed width.
console = Console(stderr=True, width=None if sys.stderr.isatty() else 140)

_Result = TypeVar("_Result")


def fail(error: FedscoreError) -> NoReturn:
    """Print the error and exit with status 2.

    Args:
        error: what went wrong (its message is printed as is).

    Raises:
        typer.Exit: always, with status 2.
    """
    # No markup (messages contain "[section]" names) and no hard wrapping (paths stay whole).
    console.print("error:", style="bold red", end=" ")
    console.print(str(error), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def or_fail(action: Callable[[], _Result]) -> _Result:
    """Do `action`; if it raises a `FedscoreError`, print it and exit with status 2.

    Args:
        action: the command's work.

    Returns:
        What `action` returns.

    Raises:
        typer.Exit: `action` raised a `FedscoreError` (status 2).
    """
    try:
        return action()
    except FedscoreError as error:
        fail(error)


def say(text: str) -> None:
    """Print a plain line (no markup, no wrapping: paths and hashes stay whole).

    Args:
        text: the line(s) to print.
    """
    console.print(text, markup=False, highlight=False, soft_wrap=True)
