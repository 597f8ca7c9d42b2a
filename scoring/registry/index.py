"""The registry index: one SQLite file of registered models and production changes.

Tables:

    models   one row per version: task, number, run, model card (JSON), manifest hash,
             the registry key's signature of the manifest, the bundle folder
    stages   every promotion and rollback in order; a task's production model is
             what replaying them leaves on top (promote pushes, rollback pops)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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
        card: its model card.
        manifest_sha256: hash of its bundle's manifest.
        signature: the registry key's Ed25519 signature of the manifest (hex).
        bundle: the bundle folder, relative to the registry root.
    """

    card: ModelCard
    manifest_sha256: str
    signature: str
    bundle: str


class RegistryIndex:
    """The SQLite index of a model registry.

    Parameters
    ----------
    path : Path
        The SQLite file (created with its tables if absent).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def next_number(self, task: str) -> int:
        with self._connect() as db:
            (last,) = db.execute(
                "SELECT MAX(number) FROM models WHERE task = ?", (task,)
            ).fetchone()
        return (last or 0) + 1

    def add(self, number: int, entry: IndexEntry) -> None:
        card = entry.card
        with self._connect() as db:
            db.execute(
                "INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    card.version,
                    card.task,
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
        with self._connect() as db:
            rows = db.execute(
                "SELECT card, manifest_sha256, signature, bundle FROM models ORDER BY task, number"
            ).fetchall()
        return [IndexEntry(ModelCard.from_dict(json.loads(r[0])), r[1], r[2], r[3]) for r in rows]

    def entry(self, version: str) -> IndexEntry | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT card, manifest_sha256, signature, bundle FROM models WHERE version = ?",
                (version,),
            ).fetchone()
        return (
            IndexEntry(ModelCard.from_dict(json.loads(row[0])), row[1], row[2], row[3])
            if row
            else None
        )

    def record_stage(self, task: str, event: str, version: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO stages (task, event, version, at) VALUES (?, ?, ?, ?)",
                (task, event, version, datetime.now(UTC).isoformat(timespec="seconds")),
            )

    def production_stack(self, task: str) -> list[str]:
        """The task's production versions, oldest first; the last one is in production."""
        with self._connect() as db:
            events = db.execute(
                "SELECT event, version FROM stages WHERE task = ? ORDER BY id", (task,)
            ).fetchall()
        stack: list[str] = []
        for event, version in events:
            if event == "promote":
                stack.append(version)
            elif stack:
                stack.pop()
        return stack

    def stage_history(self, task: str) -> list[tuple[str, str, str]]:
        """(event, version, at) of every promotion and rollback of a task, in order."""
        with self._connect() as db:
            return db.execute(
                "SELECT event, version, at FROM stages WHERE task = ? ORDER BY id", (task,)
            ).fetchall()
