"""The journal's tables, and how an older journal file is brought up to date.

The file's version is SQLite's `PRAGMA user_version`: 0 for a new file and for files
written before the journal had versions, `SCHEMA_VERSION` once migrated. An older file is
migrated once, in one write transaction (a crash leaves it as it was); a file already up
to date is only read. Other stores keep tables in the same file (the admission store),
but only the journal sets its version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from fedscore.clients.journal.connection import write_transaction
from fedscore.core.errors import FedscoreError
from fedscore.privacy.ledger import LEDGER_SCHEMA

SCHEMA_VERSION = 2
"""The version of the journal's tables this code reads and writes."""

_ROUND_COLUMNS_BEFORE_ATTEMPTS = (
    "party, task, data_version, run_id, server_round, status, reason, noise_multiplier, "
    "sample_rate, steps, max_grad_norm, delta, epsilon_rdp, epsilon_prv, max_epsilon, "
    "created_at"
)

ROUND_TABLE = """
CREATE TABLE IF NOT EXISTS round (
    party TEXT NOT NULL, task TEXT NOT NULL, data_version TEXT NOT NULL,
    run_id TEXT NOT NULL, server_round INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('trained', 'refused')),
    reason TEXT NOT NULL,
    noise_multiplier REAL, sample_rate REAL, steps INTEGER, max_grad_norm REAL,
    delta REAL NOT NULL, epsilon_rdp REAL, epsilon_prv REAL, max_epsilon REAL NOT NULL,
    created_at TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (party, task, data_version, run_id, server_round, attempt)
)
"""
ACCOUNTANT_TABLE = """
CREATE TABLE IF NOT EXISTS accountant (
    party TEXT NOT NULL, task TEXT NOT NULL, data_version TEXT NOT NULL,
    state TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (party, task, data_version)
)
"""
RELEASED_UPDATE_TABLE = """
CREATE TABLE IF NOT EXISTS released_update (
    party TEXT NOT NULL, task TEXT NOT NULL, data_version TEXT NOT NULL, run_id TEXT NOT NULL,
    server_round INTEGER NOT NULL, request_sha256 TEXT NOT NULL, ledger_seq INTEGER,
    arrays BLOB NOT NULL, metrics TEXT NOT NULL,
    PRIMARY KEY (party, task, data_version, run_id, server_round)
)
"""
BUDGET_EPOCH_TABLE = """
CREATE TABLE IF NOT EXISTS budget_epoch (
    party TEXT NOT NULL, task TEXT NOT NULL, data_version TEXT NOT NULL, epoch TEXT NOT NULL,
    PRIMARY KEY (party, task, data_version)
)
"""
RUN_PLAN_TABLE = """
CREATE TABLE IF NOT EXISTS run_plan (
    party TEXT NOT NULL, task TEXT NOT NULL, data_version TEXT NOT NULL, run_id TEXT NOT NULL,
    plan TEXT NOT NULL,
    PRIMARY KEY (party, task, data_version, run_id)
)
"""
PURE_RELEASE_TABLE = """
CREATE TABLE IF NOT EXISTS pure_release (
    party TEXT NOT NULL, epoch TEXT NOT NULL, mechanism TEXT NOT NULL,
    epsilon REAL NOT NULL CHECK (epsilon > 0), data_sha256 TEXT NOT NULL,
    ledger_seq INTEGER NOT NULL, created_at TEXT NOT NULL
)
"""
TABLES: tuple[str, ...] = (
    ROUND_TABLE,
    ACCOUNTANT_TABLE,
    RELEASED_UPDATE_TABLE,
    BUDGET_EPOCH_TABLE,
    RUN_PLAN_TABLE,
    PURE_RELEASE_TABLE,
    LEDGER_SCHEMA,
)
"""Every table of the journal (`CREATE TABLE IF NOT EXISTS`, one statement each)."""


class JournalVersionError(FedscoreError):
    """The journal file was written by a newer fedscore, with tables this one does not know."""


def upgrade(db: sqlite3.Connection) -> None:
    """Bring the journal's tables in `db` to `SCHEMA_VERSION`.

    Args:
        db: an autocommit connection to the journal file (not inside a transaction).

    Raises:
        JournalVersionError: the file is newer than this code.
    """
    if _version(db) == SCHEMA_VERSION:
        return
    with write_transaction(db):
        # Read again under the write lock: another process may have migrated meanwhile.
        for migrate in _MIGRATIONS[_version(db) :]:
            migrate(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def columns_of(db: sqlite3.Connection, table: str) -> list[str]:
    """The columns of `table` in `db`, in table order (empty if it does not exist).

    Args:
        db: a connection to the journal file.
        table: the table's name.

    Returns:
        The column names.
    """
    return [str(row[1]) for row in db.execute(f"PRAGMA table_info({table})")]


def _version(db: sqlite3.Connection) -> int:
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise JournalVersionError(
            f"the node's privacy state {_file_of(db)} has journal version {version}, newer "
            f"than this fedscore's {SCHEMA_VERSION}: run the fedscore release that wrote it"
        )
    return int(version)


def _file_of(db: sqlite3.Connection) -> str:
    return str(db.execute("PRAGMA database_list").fetchone()[2])


def _from_unversioned(db: sqlite3.Connection) -> None:
    """A new file, or one from before versions: today's tables, every round an attempt."""
    before = columns_of(db, "round")
    adding_attempts = bool(before) and "attempt" not in before
    if adding_attempts:
        db.execute("ALTER TABLE round RENAME TO round_before_attempts")
    for table in TABLES:
        db.execute(table)
    if adding_attempts:
        db.execute(
            f"INSERT INTO round ({_ROUND_COLUMNS_BEFORE_ATTEMPTS}, attempt) "
            f"SELECT {_ROUND_COLUMNS_BEFORE_ATTEMPTS}, 1 FROM round_before_attempts"
        )
        db.execute("DROP TABLE round_before_attempts")


def _add_pure_releases(db: sqlite3.Connection) -> None:
    """Version 1 to 2: the table of pure ε-DP releases outside DP-SGD."""
    db.execute(PURE_RELEASE_TABLE)


_MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _from_unversioned,
    _add_pure_releases,
)
"""The step from each version to the next, by the version it starts from."""
