"""Opening another party's SQLite state file to read it as evidence.

An auditor reads each party's privacy-state file, and a party may be hostile. The file
is opened read-only; it must hold tables only. fedscore's state files have no view or
trigger, and a view standing where the `ledger` table belongs can make every query of
the audit run forever (a recursive common table expression), or answer rows that are
stored nowhere. `PRAGMA trusted_schema = OFF` keeps the file's schema from calling SQL
functions with side effects.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fedscore.core.errors import FedscoreError


def open_party_database(path: Path) -> sqlite3.Connection:
    """A party's SQLite state file, read-only, checked to hold tables only.

    Args:
        path: the file (a node's privacy-state file, a vertical journal).

    Raises:
        sqlite3.DatabaseError: not an SQLite file, or it holds views or triggers.
    """
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        db.execute("PRAGMA trusted_schema = OFF")
        (others,) = db.execute(
            "SELECT count(*) FROM sqlite_master WHERE type IN ('view', 'trigger')"
        ).fetchone()
    except sqlite3.DatabaseError:
        db.close()
        raise
    if others:
        db.close()
        raise sqlite3.DatabaseError(
            f"it holds {others} view(s) or trigger(s), which no fedscore state file has "
            "(a view where a table belongs can make every query run forever)"
        )
    return db


@contextmanager
def reading_party_database(path: Path, what: str) -> Iterator[sqlite3.Connection]:
    """`open_party_database` for one read, closed afterwards.

    Args:
        path: the file.
        what: what the file is, named in the error ("privacy-state file", "journal").

    Raises:
        FedscoreError: the file cannot be opened or read as a fedscore state file
            (`{path}: not a readable fedscore {what} (…)`).
    """
    try:
        db = open_party_database(path)
    except sqlite3.DatabaseError as error:
        raise FedscoreError(f"{path}: not a readable fedscore {what} ({error})") from error
    try:
        yield db
    except sqlite3.DatabaseError as error:
        raise FedscoreError(f"{path}: not a readable fedscore {what} ({error})") from error
    finally:
        db.close()
