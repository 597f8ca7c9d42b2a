"""Persistent accountant state of a node, in SQLite under the node's state directory.

One accountant per (party, task, data version). A trained round is committed
in one transaction together with the accountant state it produced, its ledger entry
and the update it releases, before the update leaves the node: a crash in between
leaves none of them, and the update is never sent. Refused rounds are recorded too,
never silently skipped. Every attempt at a round has its own record: a round asked
again after a crash is either answered with the update already released (no new
privacy cost) or trained, charged and recorded again.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from fedscore.core.errors import FedscoreError
from fedscore.core.signing import SigningKey
from fedscore.privacy.accounting.accountant import PartyAccountant
from fedscore.privacy.ledger import (
    LEDGER_SCHEMA,
    LedgerEntry,
    append_entry,
    check_hash_algorithm,
)
from fedscore.privacy.ledger.store import read_entry

_ROUND_TABLE = """
CREATE TABLE IF NOT EXISTS round (
    party TEXT NOT NULL, task TEXT NOT NULL, data_version TEXT NOT NULL,
    run_id TEXT NOT NULL, server_round INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('trained', 'refused')),
    reason TEXT NOT NULL,
    noise_multiplier REAL, sample_rate REAL, steps INTEGER, max_grad_norm REAL,
    delta REAL NOT NULL, epsilon_rdp REAL, epsilon_prv REAL, max_epsilon REAL NOT NULL,
    created_at TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (party, task, data_version, run_id, server_round, attempt)
);
"""
_SCHEMA = (
    _ROUND_TABLE
    + """
CREATE TABLE IF NOT EXISTS accountant (
    party TEXT NOT NULL, task TEXT NOT NULL, data_version TEXT NOT NULL,
    state TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (party, task, data_version)
);
CREATE TABLE IF NOT EXISTS released_update (
    party TEXT NOT NULL, task TEXT NOT NULL, data_version TEXT NOT NULL, run_id TEXT NOT NULL,
    server_round INTEGER NOT NULL, request_sha256 TEXT NOT NULL, ledger_seq INTEGER,
    arrays BLOB NOT NULL, metrics TEXT NOT NULL,
    PRIMARY KEY (party, task, data_version, run_id, server_round)
);
CREATE TABLE IF NOT EXISTS budget_epoch (
    party TEXT NOT NULL, task TEXT NOT NULL, data_version TEXT NOT NULL, epoch TEXT NOT NULL,
    PRIMARY KEY (party, task, data_version)
);
CREATE TABLE IF NOT EXISTS run_plan (
    party TEXT NOT NULL, task TEXT NOT NULL, data_version TEXT NOT NULL, run_id TEXT NOT NULL,
    plan TEXT NOT NULL,
    PRIMARY KEY (party, task, data_version, run_id)
);
"""
)


@dataclass(frozen=True)
class AccountantKey:
    """Whose budget: one party's customers in one version of its data, for one task."""

    party: str
    task: str
    data_version: str


@dataclass(frozen=True)
class RoundRecord:
    """What one round cost a party (or why it was refused).

    Attributes:
        status: "trained" or "refused".
        reason: why a round was refused (empty when trained).
        epsilon_rdp, epsilon_prv: cumulative epsilon on this data version after the
            round (None for a refused round, PRV None where it failed).
        attempt: which attempt at this round of this run (1, or more after a crash).
    """

    run_id: str
    server_round: int
    status: str
    reason: str
    noise_multiplier: float | None
    sample_rate: float | None
    steps: int | None
    max_grad_norm: float | None
    delta: float
    epsilon_rdp: float | None
    epsilon_prv: float | None
    max_epsilon: float
    created_at: str = ""
    attempt: int = 1


@dataclass(frozen=True)
class ReleasedUpdate:
    """The update a node released for one round, kept to answer the same request again.

    Re-sending the same DP output is post-processing: it costs no privacy budget.

    Attributes:
        request_sha256: hash of the global model the update was trained from.
        arrays: the update's arrays (an .npz file's bytes).
        metrics: the reply's metrics (JSON).
        ledger_seq: the ledger entry of the round (None without a ledger).
    """

    request_sha256: str
    arrays: bytes
    metrics: str
    ledger_seq: int | None = None


class NodeJournal:
    """The node's privacy state file (SQLite, WAL mode).

    Parameters
    ----------
    path : Path
        The SQLite file; created with owner-only permissions if absent.
    signer : SigningKey | None
        The node's ledger key: with it, every round record is also appended to the
        signed, hash-chained ledger in the same transaction.
    ledger_hash : str
        The hash algorithm of new ledger links: "sha256" or "sm3".
    """

    def __init__(
        self, path: str | Path, signer: SigningKey | None = None, ledger_hash: str = "sha256"
    ) -> None:
        self.path = Path(path)
        self.signer = signer
        self.ledger_hash = check_hash_algorithm(ledger_hash)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self.path.touch(mode=0o600)
        with self._connect() as db:
            _add_attempts(db)
            db.executescript(_SCHEMA + LEDGER_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    def load(self, key: AccountantKey) -> PartyAccountant:
        """The accountant of `key`, empty if that data version was never trained on."""
        with self._connect() as db:
            row = db.execute(
                "SELECT state FROM accountant WHERE party=? AND task=? AND data_version=?",
                (key.party, key.task, key.data_version),
            ).fetchone()
        return PartyAccountant.from_state_dict(json.loads(row[0])) if row else PartyAccountant()

    def commit_round(
        self,
        key: AccountantKey,
        accountant: PartyAccountant,
        record: RoundRecord,
        ledger_details: dict[str, object] | None = None,
        budget_epoch: str = "default",
        released: ReleasedUpdate | None = None,
        started_from: PartyAccountant | None = None,
    ) -> LedgerEntry | None:
        """Atomically save the accountant after a round, the round's record, its ledger
        entry (with `ledger_details` such as the de-identification report hash) and the
        update it releases; a data version's first trained round fixes its
        `budget_epoch`. Returns the ledger entry (None without a signer).

        Args:
            started_from: the accountant as it was loaded before the round trained (and
                its budget was checked against). Inside the write transaction the stored
                accountant must still be exactly that; otherwise another process of this
                node charged the same data version meanwhile, and nothing is committed.

        Raises:
            ConcurrentCharge: the stored accountant changed since `started_from`.
        """
        entry: LedgerEntry | None = None
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if started_from is not None and _stored_state(db, key) != started_from.state_dict():
                    raise ConcurrentCharge(
                        "another process of this node charged the same data version while this "
                        "round trained; its update is discarded (is the node running twice?)"
                    )
                (earlier,) = db.execute(
                    "SELECT COUNT(*) FROM round WHERE party=? AND task=? AND data_version=? "
                    "AND run_id=? AND server_round=?",
                    (key.party, key.task, key.data_version, record.run_id, record.server_round),
                ).fetchone()
                stamped = replace(_stamped(record), attempt=int(earlier) + 1)
                if record.status == "trained":
                    db.execute(
                        "INSERT OR IGNORE INTO budget_epoch VALUES (?,?,?,?)",
                        (key.party, key.task, key.data_version, budget_epoch),
                    )
                    db.execute(
                        "INSERT INTO accountant VALUES (?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                        "state=excluded.state, updated_at=excluded.updated_at",
                        (
                            key.party,
                            key.task,
                            key.data_version,
                            json.dumps(accountant.state_dict()),
                            stamped.created_at,
                        ),
                    )
                db.execute(
                    "INSERT INTO round VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (key.party, key.task, key.data_version, *asdict(stamped).values()),
                )
                if self.signer is not None:
                    entry = append_entry(
                        db,
                        {**asdict(key), **asdict(stamped), **(ledger_details or {})},
                        self.signer,
                        self.ledger_hash,
                    )
                if released is not None:
                    db.execute(
                        "INSERT OR REPLACE INTO released_update VALUES (?,?,?,?,?,?,?,?,?)",
                        (
                            key.party,
                            key.task,
                            key.data_version,
                            record.run_id,
                            record.server_round,
                            released.request_sha256,
                            entry.seq if entry is not None else None,
                            released.arrays,
                            released.metrics,
                        ),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return entry

    def epoch_of(self, key: AccountantKey, current: str) -> str:
        """The budget epoch of a data version: the one it was first trained in, else `current`."""
        with self._connect() as db:
            row = db.execute(
                "SELECT epoch FROM budget_epoch WHERE party=? AND task=? AND data_version=?",
                (key.party, key.task, key.data_version),
            ).fetchone()
        return str(row[0]) if row else current

    def earlier_versions(self, key: AccountantKey, epoch: str) -> list[PartyAccountant]:
        """Accountants of the party's other data versions drawing on the same budget."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT a.state FROM accountant a JOIN budget_epoch b ON a.party=b.party "
                "AND a.task=b.task AND a.data_version=b.data_version WHERE a.party=? "
                "AND a.task=? AND b.epoch=? AND a.data_version<>?",
                (key.party, key.task, epoch, key.data_version),
            ).fetchall()
        return [PartyAccountant.from_state_dict(json.loads(row[0])) for row in rows]

    def released(
        self, key: AccountantKey, run_id: str, server_round: int
    ) -> tuple[ReleasedUpdate, LedgerEntry | None] | None:
        """The update released for a round (and its ledger entry), if one was."""
        with self._connect() as db:
            row = db.execute(
                "SELECT request_sha256, arrays, metrics, ledger_seq FROM released_update "
                "WHERE party=? AND task=? AND data_version=? AND run_id=? AND server_round=?",
                (key.party, key.task, key.data_version, run_id, server_round),
            ).fetchone()
            if row is None:
                return None
            update = ReleasedUpdate(str(row[0]), bytes(row[1]), str(row[2]), row[3])
            entry = read_entry(db, int(row[3])) if row[3] is not None else None
        return update, entry

    def rounds(self, key: AccountantKey, run_id: str | None = None) -> list[RoundRecord]:
        """Every recorded attempt at a round of `key` (of one run if given), oldest first."""
        query = "SELECT * FROM round WHERE party=? AND task=? AND data_version=?"
        params: tuple[str, ...] = (key.party, key.task, key.data_version)
        if run_id is not None:
            query += " AND run_id=?"
            params += (run_id,)
        with self._connect() as db:
            rows = db.execute(
                query + " ORDER BY created_at, server_round, attempt", params
            ).fetchall()
        return [RoundRecord(*row[3:]) for row in rows]

    def trained_round(self, key: AccountantKey, run_id: str, server_round: int) -> bool:
        with self._connect() as db:
            row = db.execute(
                "SELECT 1 FROM round WHERE party=? AND task=? AND data_version=? AND run_id=? "
                "AND server_round=? AND status='trained'",
                (key.party, key.task, key.data_version, run_id, server_round),
            ).fetchone()
        return row is not None

    def plan(self, key: AccountantKey, run_id: str) -> dict[str, float] | None:
        """The noise calibration fixed for a run at its first round, if any."""
        with self._connect() as db:
            row = db.execute(
                "SELECT plan FROM run_plan WHERE party=? AND task=? AND data_version=? "
                "AND run_id=?",
                (key.party, key.task, key.data_version, run_id),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def save_plan(self, key: AccountantKey, run_id: str, plan: dict[str, float]) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO run_plan VALUES (?,?,?,?,?)",
                (key.party, key.task, key.data_version, run_id, json.dumps(plan)),
            )


class ConcurrentCharge(FedscoreError):
    """Another process committed a round of the same data version first: nothing was
    committed, and the update must not be released."""


def _stored_state(db: sqlite3.Connection, key: AccountantKey) -> dict[str, object]:
    """The accountant state as stored, read inside the caller's transaction."""
    row = db.execute(
        "SELECT state FROM accountant WHERE party=? AND task=? AND data_version=?",
        (key.party, key.task, key.data_version),
    ).fetchone()
    return json.loads(row[0]) if row else PartyAccountant().state_dict()


def _add_attempts(db: sqlite3.Connection) -> None:
    """Move a state file written before rounds had attempts onto today's schema."""
    columns = [row[1] for row in db.execute("PRAGMA table_info(round)")]
    if not columns or "attempt" in columns:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("ALTER TABLE round RENAME TO round_before_attempts")
        db.execute(_ROUND_TABLE)
        db.execute("INSERT INTO round SELECT *, 1 FROM round_before_attempts")
        db.execute("DROP TABLE round_before_attempts")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _stamped(record: RoundRecord) -> RoundRecord:
    if record.created_at:
        return record
    return replace(record, created_at=datetime.now(UTC).isoformat(timespec="microseconds"))
