"""The runs a node accepted and the requests it declined, in its privacy-state file.

A run is accepted once, at its first round: its terms (every signed setting) are bound
to its run id, and the epsilon it asks counts against the node's daily and monthly
caps from then on. The check and the record happen in one SQLite write transaction, so
two processes of one node cannot both accept runs past a cap. Declined requests are
kept with their reason: what a hostile coordinator or owner tried is on record.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accepted_run (
    run_id TEXT PRIMARY KEY,
    terms_sha256 TEXT NOT NULL,
    owner TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    epsilon REAL NOT NULL,
    accepted_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS declined_request (
    declined_at TEXT NOT NULL,
    run_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    reason TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class EpsilonCaps:
    """The node's limits on the epsilon runs may ask per UTC day and month (None: none)."""

    per_day: float | None
    per_month: float | None


@dataclass(frozen=True)
class RunTerms:
    """A run as the node accepts it.

    Attributes:
        run_id: the run.
        terms_sha256: hash of everything signed but the validity window.
        owner: the model owner who signed it.
        request_sha256: hash of the signed request.
        epsilon: the epsilon the run asks of each party.
    """

    run_id: str
    terms_sha256: str
    owner: str
    request_sha256: str
    epsilon: float


class AdmissionStore:
    """Accepted runs and declined requests of one node (tables in its privacy state).

    Args:
        path: The node's privacy-state SQLite file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """The state file, created (owner-only) with these tables on first use."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self.path.touch(mode=0o600)
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            yield db
        finally:
            db.close()

    def accept(self, terms: RunTerms, caps: EpsilonCaps, now: datetime, record: bool = True) -> str:
        """Accept `terms`, or say why not.

        A run already accepted with the same terms is accepted again at no new cost (a
        later round, a resumed run); with other terms it is declined. A new run is
        accepted if the epsilon of the runs accepted in the same UTC day and month,
        plus its own, stays within `caps`. With `record` False nothing is written (the
        check before round 1).

        Returns:
            "" when accepted, else the reason it is not.
        """
        day, month = now.strftime("%Y-%m-%d"), now.strftime("%Y-%m")
        if not record and not self.path.exists():  # a check only, on a node that never ran
            return _refusal(sqlite3.connect(":memory:"), terms, caps, day, month, fresh=True)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                reason = _refusal(db, terms, caps, day, month)
                if record and not reason and not _known(db, terms.run_id):
                    db.execute(
                        "INSERT INTO accepted_run (run_id, terms_sha256, owner, request_sha256, "
                        "epsilon, accepted_at) VALUES (:run_id, :terms_sha256, :owner, "
                        ":request_sha256, :epsilon, :accepted_at)",
                        {**dataclasses.asdict(terms), "accepted_at": now.isoformat()},
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return reason

    def decline(
        self, run_id: str, owner: str, request_sha256: str, reason: str, now: datetime
    ) -> None:
        """Record a declined request (what was asked, by whom as claimed, and why not)."""
        with self._connect() as db:
            db.execute(
                "INSERT INTO declined_request (declined_at, run_id, owner, request_sha256, reason)"
                " VALUES (?, ?, ?, ?, ?)",
                (now.isoformat(), run_id[:200], owner[:200], request_sha256, reason),
            )

    def declined(self) -> list[tuple[str, str, str, str, str]]:
        """Every declined request, oldest first: (when, run id, owner, request hash, reason)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT declined_at, run_id, owner, request_sha256, reason FROM declined_request"
                " ORDER BY rowid"
            ).fetchall()
        return [
            (str(when), str(run_id), str(owner), str(request_sha256), str(reason))
            for when, run_id, owner, request_sha256, reason in rows
        ]

    def accepted(self) -> list[RunTerms]:
        """Every accepted run, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT run_id, terms_sha256, owner, request_sha256, epsilon FROM accepted_run"
                " ORDER BY accepted_at"
            ).fetchall()
        return [RunTerms(str(r[0]), str(r[1]), str(r[2]), str(r[3]), float(r[4])) for r in rows]


def _known(db: sqlite3.Connection, run_id: str) -> bool:
    return db.execute("SELECT 1 FROM accepted_run WHERE run_id=?", (run_id,)).fetchone() is not None


def _refusal(
    db: sqlite3.Connection,
    terms: RunTerms,
    caps: EpsilonCaps,
    day: str,
    month: str,
    fresh: bool = False,
) -> str:
    if fresh:
        db.executescript(_SCHEMA)
    row = db.execute(
        "SELECT terms_sha256 FROM accepted_run WHERE run_id=?", (terms.run_id,)
    ).fetchone()
    if row is not None:
        if row[0] != terms.terms_sha256:
            return (
                f"run {terms.run_id} was accepted with other terms; a run's settings cannot "
                "change once it started"
            )
        return ""
    for label, cap, prefix in (("day", caps.per_day, day), ("month", caps.per_month, month)):
        if cap is None:
            continue
        (asked,) = db.execute(
            "SELECT COALESCE(SUM(epsilon), 0) FROM accepted_run WHERE accepted_at LIKE ?",
            (prefix + "%",),
        ).fetchone()
        if float(asked) + terms.epsilon > cap + 1e-9:
            return (
                f"the runs accepted this {label} already ask epsilon {float(asked):g}; another "
                f"{terms.epsilon:g} would pass this node's max_epsilon_per_{label} {cap:g}"
            )
    return ""
