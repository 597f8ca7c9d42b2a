"""`fedscore keys init|rotate|list`: an institution's pseudonymization keys."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from fedscore.cli.output import console, or_fail

if TYPE_CHECKING:
    from fedscore.privacy.keys import KeyRing

keys_app = typer.Typer(
    help="An institution's pseudonymization keys (versioned, owner-only, never printed).",
    no_args_is_help=True,
)
KeyDir = Annotated[
    Path, typer.Option(help="The institution's key directory (apart from its data).")
]
Purpose = Annotated[str, typer.Option(help="Processing purpose the keys serve.")]


@keys_app.command("init")
def keys_init(
    key_dir: KeyDir,
    institution: Annotated[str, typer.Option(help="The institution the keys belong to.")],
    purpose: Purpose = "credit_risk_scoring",
    algorithm: Annotated[str, typer.Option(help="hmac-sha256 or hmac-sm3.")] = "hmac-sha256",
) -> None:
    """Create the key ring of an institution for one purpose (version 1)."""
    keys = _key_ring(key_dir, purpose)
    version = or_fail(lambda: keys.init(institution, algorithm))
    console.print(f"created key version {version.version} ({version.algorithm}) for {purpose}")


@keys_app.command("rotate")
def keys_rotate(key_dir: KeyDir, purpose: Purpose = "credit_risk_scoring") -> None:
    """Make a new key version current; pseudonyms made from now on carry its number."""
    version = or_fail(_key_ring(key_dir, purpose).rotate)
    console.print(f"key version {version.version} is now current for {purpose}")


@keys_app.command("list")
def keys_list(key_dir: KeyDir, purpose: Purpose = "credit_risk_scoring") -> None:
    """Key versions and their creation times (never the key material)."""
    from rich.table import Table

    versions = or_fail(_key_ring(key_dir, purpose).versions)
    table = Table(title=f"keys for {purpose}")
    for column in ("version", "algorithm", "created", "current"):
        table.add_column(column)
    for info in versions:
        table.add_row(
            str(info["version"]),
            str(info["algorithm"]),
            str(info["created_at"]),
            "yes" if info["current"] else "",
        )
    Console().print(table)


def _key_ring(key_dir: Path, purpose: str) -> KeyRing:
    """The key ring of `purpose` under `key_dir` (a purpose naming a path: exit 2)."""
    from fedscore.privacy.keys import KeyRing

    return or_fail(lambda: KeyRing(key_dir, purpose))


def register(app: typer.Typer) -> None:
    """Add `fedscore keys ...` to the `fedscore` command line.

    Args:
        app: the `fedscore` command line.
    """
    app.add_typer(keys_app, name="keys")
