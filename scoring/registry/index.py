"""The registry index: one SQLite file of registered models and production changes.

Tables:

    models   one row per version: task, number, run, model card (JSON), manifest hash,
             the registry key's signature of the manifest, the bundle folder
    stages   every promotion and rollback in order; a task's production model is
             what replaying them leaves on top (promote pushes, rollback pops)

The card column is a copy for SQL queries; what fedscore shows is the bundle's signed
card.json. Reading opens the file read-only and never creates it, so scoring needs
no write access to the registry; the first write creates the file and its tables.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fedscore.scoring.registry.card import ModelCard

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    version TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    number INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    card TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    signature TEXT NOT NULL,
    bundle TEXT NOT NULL,
    UNIQUE (task, number)
);
CREATE TABLE IF NOT EXISTS stages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task TEXT NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('promote', 'rollback')),
    version TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class IndexEntry:
    """One registered version as the index holds it.

    Attributes:
        version: the version (e.g. "default_risk-v3").
        task: its task.
        manifest_sha256: hash of its bundle's manifest.
        signature: the registry key's Ed25519 signature of the manifest (hex).
        bundle: the bundle folder, relative to the registry root.
    """

    version: str
    task: str
    manifest_sha256: str
    signature: str
    bundle: str


_ENTRY_COLUMNS = "version, task, manifest_sha256, signature, bundle"


class RegistryIndex:
    """The SQLite index of a model registry.

    Args:
        path: The SQLite file (created with its tables by the first write).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                db.executescript(_SCHEMA)
            with db:
                yield db
        finally:
            db.close()

    def _read(self, query: str, parameters: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of a query; none while the index does not exist yet."""
        if not self.path.is_file():
            return []
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return db.execute(query, parameters).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        finally:
            db.close()

    def next_number(self, task: str) -> int:
        rows = self._read("SELECT MAX(number) FROM models WHERE task = ?", (task,))
        return (rows[0][0] if rows and rows[0][0] else 0) + 1

    def add(self, number: int, card: ModelCard, entry: IndexEntry) -> None:
        with self._writing() as db:
            db.execute(
                "INSERT INTO models (version, task, number, run_id, card, manifest_sha256,"
                " signature, bundle) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.version,
                    entry.task,
                    number,
                    card.run_id,
                    json.dumps(card.as_dict(), sort_keys=True),
                    entry.manifest_sha256,
                    entry.signature,
                    entry.bundle,
                ),
            )

    def entries(self) -> list[IndexEntry]:
        """Every registered version, by task then number."""
        rows = self._read(f"SELECT {_ENTRY_COLUMNS} FROM models ORDER BY task, number")
        return [IndexEntry(*row) for row in rows]

    def entry(self, version: str) -> IndexEntry | None:
        rows = self._read(f"SELECT {_ENTRY_COLUMNS} FROM models WHERE version = ?", (version,))
        return IndexEntry(*rows[0]) if rows else None

    def record_stage(self, task: str, event: str, version: str) -> None:
        with self._writing() as db:
            db.execute(
                "INSERT INTO stages (task, event, version, at) VALUES (?, ?, ?, ?)",
                (task, event, version, datetime.now(UTC).isoformat(timespec="seconds")),
            )

    def production_stack(self, task: str) -> list[str]:
        """The task's production versions, oldest first; the last one is in production."""
        stack: list[str] = []
        for event, version in self._read(
            "SELECT event, version FROM stages WHERE task = ? ORDER BY id", (task,)
        ):
            if event == "promote":
                stack.append(version)
            elif stack:
                stack.pop()
        return stack

    def stage_history(self, task: str) -> list[tuple[str, str, str]]:
        """(event, version, at) of every promotion and rollback of a task, in order."""
        return self._read(
            "SELECT event, version, at FROM stages WHERE task = ? ORDER BY id", (task,)
        )
