"""NAME=FILE options (`--party`, `--consent`) as the commands that take them read them."""

from __future__ import annotations

from pathlib import Path

from fedscore.core.errors import FedscoreError


def named_files(entries: list[str], option: str) -> dict[str, Path]:
    """NAME=FILE options as name → resolved path.

    Args:
        entries: the option's values, as given.
        option: the option's name, for errors.

    Raises:
        FedscoreError: an entry is not NAME=FILE, or a name is given twice.
    """
    named: dict[str, Path] = {}
    for entry in entries:
        name, sep, file = entry.partition("=")
        if not sep or not name or not file:
            raise FedscoreError(f"{option} expects NAME=FILE, got '{entry}'")
        if name in named:
            raise FedscoreError(f"{option} names '{name}' twice")
        named[name] = Path(file).resolve()
    return named
