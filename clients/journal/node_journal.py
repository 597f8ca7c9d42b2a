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
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, fields, replace
from datetime import UTC, datetime
from pathlib import Path

from fedscore.clients.journal import pure_releases, tables
from fedscore.clients.journal.connection import StatementHook, connect, write_transaction
from fedscore.clients.journal.records import (
    AccountantKey,
    PureRelease,
    ReleasedUpdate,
    RoundRecord,
)
from fedscore.clients.journal.statements import (
    KEY_COLUMNS,
    ROUND_COLUMNS,
    insert,
    select,
)
from fedscore.core.errors import FedscoreError
from fedscore.core.signing import SigningKey
from fedscore.privacy.accounting.accountant import PartyAccountant
from fedscore.privacy.ledger import LedgerEntry, append_entry, check_hash_algorithm
from fedscore.privacy.ledger.store import read_entry

_RECORD_FIELDS = tuple(field.name for field in fields(RoundRecord))
_RELEASED_FIELDS = tuple(field.name for field in fields(ReleasedUpdate))

_ACCOUNTANT = select("accountant", ("state",), KEY_COLUMNS)
_SAVE_ACCOUNTANT = insert(
    "accountant",
    (*KEY_COLUMNS, "state", "updated_at"),
    tail="ON CONFLICT DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at",
)
_EARLIER_VERSIONS = (
    "SELECT a.state FROM accountant a JOIN budget_epoch b USING (party, task, data_version) "
    "WHERE a.party=:party AND a.task=:task AND b.epoch=:epoch AND a.data_version<>:data_version"
)
_EPOCH = select("budget_epoch", ("epoch",), KEY_COLUMNS)
_FIX_EPOCH = insert("budget_epoch", (*KEY_COLUMNS, "epoch"), verb="INSERT OR IGNORE")
_ATTEMPTS = select("round", ("COUNT(*) AS attempts",), ROUND_COLUMNS)
_SAVE_ROUND = insert("round", (*KEY_COLUMNS, *_RECORD_FIELDS))
_TRAINED = select("round", ("1",), (*ROUND_COLUMNS, "status"))
_RELEASED = select("released_update", _RELEASED_FIELDS, ROUND_COLUMNS)
_SAVE_RELEASED = insert(
    "released_update", (*ROUND_COLUMNS, *_RELEASED_FIELDS), verb="INSERT OR REPLACE"
)
_PLAN = select("run_plan", ("plan",), (*KEY_COLUMNS, "run_id"))
_SAVE_PLAN = insert("run_plan", (*KEY_COLUMNS, "run_id", "plan"), verb="INSERT OR IGNORE")


class ConcurrentCharge(FedscoreError):
    """Another process of the node committed a round of the same data version first.

    Nothing was committed, and the round's update must not be released.
    """


class NodeJournal:
    """The node's privacy state file (SQLite, WAL mode).

    Opening the journal creates the file (owner-only) and its tables if absent, and
    migrates a file written by an older fedscore once (`tables.py`); a file already up to
    date is only read.

    Args:
        path: the SQLite file; created with owner-only permissions if absent.
        signer: the node's ledger key: with it, every round record is also appended to
            the signed, hash-chained ledger in the same transaction.
        ledger_hash: the hash algorithm of new ledger links: "sha256" or "sm3".
        on_statement: a hook for tracing or auditing the journal's SQL. It is installed
            as SQLite's trace callback on every connection the journal opens (opening
            included), and called with each statement's text, bound values filled in,
            as SQLite starts running it: before the statement has any effect. It must
            not use the journal; an exception it raises is not propagated.

    Attributes:
        path: the SQLite file.
        signer: the node's ledger key (None: rounds are not ledgered).
        ledger_hash: the hash algorithm of new ledger links.
        on_statement: the SQL hook (None: none).

    Raises:
        tables.JournalVersionError: the file was written by a newer fedscore.
    """

    def __init__(
        self,
        path: str | Path,
        signer: SigningKey | None = None,
        ledger_hash: str = "sha256",
        on_statement: StatementHook | None = None,
    ) -> None:
        self.path = Path(path)
        self.signer = signer
        self.ledger_hash = check_hash_algorithm(ledger_hash)
        self.on_statement = on_statement
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self.path.touch(mode=0o600)
        with connect(self.path, self.on_statement) as db:
            tables.upgrade(db)

    def load(self, key: AccountantKey) -> PartyAccountant:
        """The accountant of `key`, empty if that data version was never trained on."""
        row = self._one(_ACCOUNTANT, asdict(key))
        if row is None:
            return PartyAccountant()
        return PartyAccountant.from_state_dict(json.loads(row["state"]))

    def commit_round(
        self,
        key: AccountantKey,
        accountant: PartyAccountant,
        record: RoundRecord,
        ledger_details: dict[str, object] | None = None,
        budget_epoch: str = "default",
        released: ReleasedUpdate | None = None,
        started_from: PartyAccountant | None = None,
        pure_spent_checked: float | None = None,
    ) -> LedgerEntry | None:
        """Atomically save a round: the accountant after it, its record, ledger entry and update.

        A data version's first trained round fixes its budget epoch. The record is
        stamped with the time and numbered as the next attempt at its round.

        Args:
            key: whose budget the round was charged to.
            accountant: the accountant after the round (saved only if it trained).
            record: what the round cost, or why it was refused.
            ledger_details: what the ledger entry records besides the round (such as the
                de-identification report hash).
            budget_epoch: the budget epoch this data version draws on, if this is its
                first trained round.
            released: the update the round releases, kept to answer the same request
                again.
            started_from: the accountant as it was loaded before the round trained (and
                its budget was checked against). Inside the write transaction the stored
                accountant must still be exactly that; otherwise another process of this
                node charged the same data version meanwhile, and nothing is committed.
            pure_spent_checked: the ε of pure releases in `budget_epoch` the round's budget
                check counted; a release charged since (`charge_pure_release`) means the
                check no longer holds, and nothing is committed.

        Returns:
            The round's ledger entry (None without a signer).

        Raises:
            ConcurrentCharge: the stored accountant changed since `started_from`, or a pure
                release was charged since `pure_spent_checked`.
        """
        entry: LedgerEntry | None = None
        at_key = asdict(key)
        at_round = _at_round(key, record.run_id, record.server_round)
        with self._connect() as db, write_transaction(db):
            stored = db.execute(_ACCOUNTANT, at_key).fetchone()
            state = json.loads(stored["state"]) if stored else PartyAccountant().state_dict()
            if started_from is not None and state != started_from.state_dict():
                raise ConcurrentCharge(
                    "another process of this node charged the same data version while this "
                    "round trained; its update is discarded (is the node running twice?)"
                )
            released_since = pure_spent_checked is not None and (
                pure_releases.pure_spent(db, key.party, budget_epoch) > pure_spent_checked
            )
            if released_since:
                raise ConcurrentCharge(
                    "a pure release was charged to this budget while this round trained; its "
                    "update is discarded (the round's budget check no longer holds)"
                )
            attempts = int(db.execute(_ATTEMPTS, at_round).fetchone()["attempts"])
            stamped = _stamped(record, attempts + 1)
            if record.status == "trained":
                db.execute(_FIX_EPOCH, {**at_key, "epoch": budget_epoch})
                saved = json.dumps(accountant.state_dict())
                db.execute(
                    _SAVE_ACCOUNTANT, {**at_key, "state": saved, "updated_at": stamped.created_at}
                )
            db.execute(_SAVE_ROUND, {**at_key, **asdict(stamped)})
            if self.signer is not None:
                content = {**at_key, **asdict(stamped), **(ledger_details or {})}
                entry = append_entry(db, content, self.signer, self.ledger_hash)
            if released is not None:
                seq = entry.seq if entry is not None else None
                db.execute(_SAVE_RELEASED, {**at_round, **asdict(released), "ledger_seq": seq})
        return entry

    def epoch_of(self, key: AccountantKey, current: str) -> str:
        """The budget epoch of a data version: the one it was first trained in, else `current`."""
        row = self._one(_EPOCH, asdict(key))
        return str(row["epoch"]) if row else current

    def earlier_versions(self, key: AccountantKey, epoch: str) -> list[PartyAccountant]:
        """Accountants of the party's other data versions drawing on the same budget."""
        with self._connect() as db:
            rows = db.execute(_EARLIER_VERSIONS, {**asdict(key), "epoch": epoch}).fetchall()
        return [PartyAccountant.from_state_dict(json.loads(row["state"])) for row in rows]

    def pure_spent(self, party: str, epoch: str) -> float:
        """ε of the party's pure releases charged to `epoch` (`pure_releases`), added up."""
        with self._connect() as db:
            return pure_releases.pure_spent(db, party, epoch)

    def charge_pure_release(
        self, release: PureRelease, max_epsilon: float, details: dict[str, object]
    ) -> LedgerEntry:
        """Charge a pure ε-DP release to the party's budget and ledger, in one transaction.

        Args:
            release: what is released, at what ε, charged to which epoch.
            max_epsilon: the party's budget.
            details: further facts for the ledger entry (never a value of the data).

        Raises:
            FedscoreError: the journal has no ledger key (a release must be ledgered).
            pure_releases.PureReleaseRefused: it does not fit in the budget; nothing was
                recorded.
        """
        if self.signer is None:
            raise FedscoreError("a pure release must be ledgered: open the journal with a key")
        with self._connect() as db, write_transaction(db):
            return pure_releases.charge(
                db, release, max_epsilon, self.signer, self.ledger_hash, details
            )

    def released(
        self, key: AccountantKey, run_id: str, server_round: int
    ) -> tuple[ReleasedUpdate, LedgerEntry | None] | None:
        """The update released for a round (and its ledger entry), if one was."""
        at_round = _at_round(key, run_id, server_round)
        with self._connect() as db:
            row = db.execute(_RELEASED, at_round).fetchone()
            if row is None:
                return None
            update = ReleasedUpdate(
                request_sha256=str(row["request_sha256"]),
                arrays=bytes(row["arrays"]),
                metrics=str(row["metrics"]),
                ledger_seq=row["ledger_seq"],
            )
            seq = update.ledger_seq
            entry = read_entry(db, int(seq)) if seq is not None else None
        return update, entry

    def rounds(self, key: AccountantKey, run_id: str | None = None) -> list[RoundRecord]:
        """Every recorded attempt at a round of `key` (of one run if given), oldest first."""
        where = KEY_COLUMNS if run_id is None else (*KEY_COLUMNS, "run_id")
        query = select("round", _RECORD_FIELDS, where, "ORDER BY created_at, server_round, attempt")
        with self._connect() as db:
            rows = db.execute(query, {**asdict(key), "run_id": run_id}).fetchall()
        return [RoundRecord(**{name: row[name] for name in _RECORD_FIELDS}) for row in rows]

    def trained_round(self, key: AccountantKey, run_id: str, server_round: int) -> bool:
        """Whether an attempt at this round of `run_id` trained (and was charged)."""
        at_round = _at_round(key, run_id, server_round)
        return self._one(_TRAINED, {**at_round, "status": "trained"}) is not None

    def plan(self, key: AccountantKey, run_id: str) -> dict[str, float] | None:
        """The noise calibration fixed for a run at its first round, if any."""
        row = self._one(_PLAN, {**asdict(key), "run_id": run_id})
        return json.loads(row["plan"]) if row else None

    def save_plan(self, key: AccountantKey, run_id: str, plan: dict[str, float]) -> None:
        """Fix a run's noise calibration; a plan fixed before is kept."""
        with self._connect() as db:
            db.execute(_SAVE_PLAN, {**asdict(key), "run_id": run_id, "plan": json.dumps(plan)})

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        """A connection to the journal's file (a context manager), with the SQL hook."""
        return connect(self.path, self.on_statement)

    def _one(self, query: str, params: Mapping[str, object]) -> sqlite3.Row | None:
        """The first row `query` finds, on a connection of its own."""
        with self._connect() as db:
            row: sqlite3.Row | None = db.execute(query, params).fetchone()
        return row


def _at_round(key: AccountantKey, run_id: str, server_round: int) -> dict[str, object]:
    """The parameters that pick one round of one run of `key` (`ROUND_COLUMNS`)."""
    return {**asdict(key), "run_id": run_id, "server_round": server_round}


def _stamped(record: RoundRecord, attempt: int) -> RoundRecord:
    """`record` as committed: numbered as `attempt`, stamped with the time if it was not."""
    created_at = record.created_at or datetime.now(UTC).isoformat(timespec="microseconds")
    return replace(record, created_at=created_at, attempt=attempt)
