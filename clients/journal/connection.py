"""How the journal opens its SQLite file, and its write transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

StatementHook = Callable[[str], None]
"""Called with the text of an SQL statement (bound values filled in) as it starts."""


@contextmanager
def connect(path: Path, on_statement: StatementHook | None = None) -> Iterator[sqlite3.Connection]:
    """A connection to the journal's file, closed on exit.

    Autocommit (transactions are explicit), WAL mode, a full sync on every commit, rows
    readable by column name.

    Args:
        path: the SQLite file.
        on_statement: installed as SQLite's trace callback before the connection runs
            anything, so it sees every statement, before the statement has any effect.
    """
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        if on_statement is not None:
            db.set_trace_callback(on_statement)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        yield db
    finally:
        db.close()


@contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once: committed on exit, rolled back on any error.

    `BEGIN IMMEDIATE` takes the write lock first, so what the body reads stays true until
    it commits (another process of the node waits).

    Args:
        db: an autocommit connection from `connect`.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
