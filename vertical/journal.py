"""A vertical party's privacy state: its budgets and its signed ledger (SQLite).

Five kinds of ledger entry, each appended in the same transaction as the budget change
it records, and before anything it covers leaves the node:

- `vertical.psi`: an intersection was computed — protocol, set sizes, intersection size,
  a commitment to it (SHA-256 of the sorted join keys: both parties record the same),
  the consent purpose and evaluation date;
- `vertical.label_release` (label holder): labels were released under label DP —
  mechanism, ε_label, label version; charged to the *label* budget, never added to the
  record-level ε;
- `vertical.training`: the party's DP-SGD on its own columns — noise, sampling rate,
  steps, ε by the RDP and PRV accountants at its δ; the whole run's steps are charged
  before the first step's output leaves (a run that stops early has spent them);
- `vertical.disclosure`: what crosses to the peer *without* DP: how many per-row values
  (contributions or gradients) and of what;
- `vertical.serving` (feature holder): its partial scores served to the bank — when a
  service opens, to whom and for at most how many customers (before the first reply),
  and when it stops, how many calls and distinct customers it answered.

The record-level accountant is kept per (party, purpose, data version), so every vertical
run on the same data draws on one budget.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fedscore.clients.journal.connection import connect, write_transaction
from fedscore.core.errors import FedscoreError
from fedscore.core.signing import SigningKey
from fedscore.privacy.accounting.accountant import PartyAccountant
from fedscore.privacy.ledger import LEDGER_SCHEMA, LedgerEntry, append_entry

SCHEMA = (
    LEDGER_SCHEMA
    + """
CREATE TABLE IF NOT EXISTS record_accountant (
    party TEXT NOT NULL, purpose TEXT NOT NULL, data_version TEXT NOT NULL,
    state TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (party, purpose, data_version)
);
CREATE TABLE IF NOT EXISTS label_release (
    party TEXT NOT NULL, purpose TEXT NOT NULL, label_version TEXT NOT NULL,
    epsilon REAL NOT NULL, run_id TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (party, purpose, label_version, epsilon)
);
CREATE TABLE IF NOT EXISTS run_charge (
    party TEXT NOT NULL, run_id TEXT NOT NULL, kind TEXT NOT NULL, ledger_seq INTEGER,
    PRIMARY KEY (party, run_id, kind)
);
"""
)


class BudgetExceeded(FedscoreError):
    """A run would spend more than the node's budget allows; nothing was charged."""


@dataclass(frozen=True)
class TrainingCharge:
    """A party's DP-SGD plan for one run, as charged.

    Attributes:
        noise_multiplier: σ of its Gaussian noise.
        sample_rate: the Poisson sampling rate of its batches.
        steps: the run's steps.
        delta: the δ its ε is stated at.
        details: further facts for the ledger entry (model, clipping, rows).
    """

    noise_multiplier: float
    sample_rate: float
    steps: int
    delta: float
    details: dict[str, Any]


class VerticalJournal:
    """The node's vertical privacy state file (owner-only SQLite, WAL).

    Args:
        path: the SQLite file, created owner-only if absent.
        signer: the node's ledger key; every charge and disclosure is a signed entry.
        party: the node's party name (recorded in every entry).
    """

    def __init__(self, path: Path, signer: SigningKey, party: str) -> None:
        self.path = path
        self.signer = signer
        self.party = party
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            path.touch(mode=0o600)
        with connect(path) as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with connect(self.path) as db, write_transaction(db):
            yield db

    def _append(self, db: sqlite3.Connection, kind: str, run_id: str, **facts: Any) -> LedgerEntry:
        content = {
            "kind": kind,
            "party": self.party,
            "run_id": run_id,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **facts,
        }
        entry = append_entry(db, content, self.signer)
        db.execute(
            "INSERT OR REPLACE INTO run_charge (party, run_id, kind, ledger_seq) VALUES (?,?,?,?)",
            (self.party, run_id, kind, entry.seq),
        )
        return entry

    def recorded(self, run_id: str, kind: str) -> dict[str, Any] | None:
        """The content of the entry of `kind` this node recorded for `run_id`, if any."""
        with connect(self.path) as db:
            row = db.execute(
                "SELECT l.content FROM run_charge c JOIN ledger l ON l.seq = c.ledger_seq "
                "WHERE c.party=? AND c.run_id=? AND c.kind=?",
                (self.party, run_id, kind),
            ).fetchone()
        return None if row is None else dict(json.loads(row["content"]))

    def record_psi(self, run_id: str, **facts: Any) -> LedgerEntry:
        """Record an intersection's disclosure (sizes, commitment, consent); see the module."""
        with self._transaction() as db:
            return self._append(db, "vertical.psi", run_id, **facts)

    def record_disclosure(self, run_id: str, **facts: Any) -> LedgerEntry:
        """Record what crosses to the peer without DP (counts and kinds of values)."""
        with self._transaction() as db:
            return self._append(db, "vertical.disclosure", run_id, **facts)

    def record_serving(self, run_id: str, **facts: Any) -> LedgerEntry:
        """Record partial scores served to the bank (see the module)."""
        with self._transaction() as db:
            return self._append(db, "vertical.serving", run_id, **facts)

    def label_epsilon_spent(self, purpose: str) -> float:
        """ε_label of every label release of this party for `purpose`, added up."""
        with connect(self.path) as db:
            row = db.execute(
                "SELECT COALESCE(SUM(epsilon), 0) AS spent FROM label_release "
                "WHERE party=? AND purpose=?",
                (self.party, purpose),
            ).fetchone()
        return float(row["spent"])

    def charge_label_release(
        self,
        run_id: str,
        purpose: str,
        label_version: str,
        epsilon: float,
        max_epsilon: float,
        **facts: Any,
    ) -> tuple[bool, LedgerEntry]:
        """Charge a label release to the label budget, once per (label version, ε).

        Returns:
            (whether this call charged it, the ledger entry). A release already made for
            this label version at this ε costs nothing again: the same noisy labels are
            reused, which is what "once per label version" means.

        Raises:
            BudgetExceeded: a new release would take the label budget past `max_epsilon`.
        """
        with self._transaction() as db:
            existing = db.execute(
                "SELECT run_id FROM label_release WHERE party=? AND purpose=? AND "
                "label_version=? AND epsilon=?",
                (self.party, purpose, label_version, epsilon),
            ).fetchone()
            spent = float(
                db.execute(
                    "SELECT COALESCE(SUM(epsilon), 0) FROM label_release WHERE party=? AND "
                    "purpose=?",
                    (self.party, purpose),
                ).fetchone()[0]
            )
            new = existing is None
            if new and spent + epsilon > max_epsilon + 1e-12:
                raise BudgetExceeded(
                    f"{self.party}: a label release at ε_label {epsilon:g} would bring the label "
                    f"budget to {spent + epsilon:g}, above its max_label_epsilon {max_epsilon:g}"
                )
            if new:
                db.execute(
                    "INSERT INTO label_release VALUES (?,?,?,?,?,?)",
                    (
                        self.party,
                        purpose,
                        label_version,
                        epsilon,
                        run_id,
                        datetime.now(UTC).isoformat(timespec="seconds"),
                    ),
                )
            total = spent + (epsilon if new else 0.0)
            entry = self._append(
                db,
                "vertical.label_release",
                run_id,
                mechanism="randomized_response",
                epsilon_label=epsilon,
                label_version=label_version,
                new_release=new,
                label_budget_used=total,
                max_label_epsilon=max_epsilon,
                **facts,
            )
        return new, entry

    def record_accountant(self, purpose: str, data_version: str) -> PartyAccountant:
        """The record-level DP-SGD history of this party's data version (empty if new)."""
        with connect(self.path) as db:
            return self._accountant(db, purpose, data_version)

    def _accountant(
        self, db: sqlite3.Connection, purpose: str, data_version: str
    ) -> PartyAccountant:
        row = db.execute(
            "SELECT state FROM record_accountant WHERE party=? AND purpose=? AND data_version=?",
            (self.party, purpose, data_version),
        ).fetchone()
        if row is None:
            return PartyAccountant()
        return PartyAccountant.from_state_dict(json.loads(row["state"]))

    def charge_training(
        self, run_id: str, purpose: str, data_version: str, plan: TrainingCharge, max_epsilon: float
    ) -> LedgerEntry:
        """Charge the run's DP-SGD steps to the record-level budget before any step runs.

        Raises:
            BudgetExceeded: the steps would take ε (RDP, the compliance figure) past
                `max_epsilon`; nothing is charged.
        """
        with self._transaction() as db:
            before = self._accountant(db, purpose, data_version)
            after = before.projected(plan.noise_multiplier, plan.sample_rate, plan.steps)
            report = after.report(plan.delta)
            if not math.isfinite(report.rdp) or report.rdp > max_epsilon + 1e-9:
                raise BudgetExceeded(
                    f"{self.party}: the run's {plan.steps} steps would bring ε to "
                    f"{report.rdp:.4g} (RDP, δ={plan.delta:g}), above max_record_epsilon "
                    f"{max_epsilon:g}"
                )
            now = datetime.now(UTC).isoformat(timespec="seconds")
            db.execute(
                "INSERT INTO record_accountant VALUES (?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                "state=excluded.state, updated_at=excluded.updated_at",
                (self.party, purpose, data_version, json.dumps(after.state_dict()), now),
            )
            return self._append(
                db,
                "vertical.training",
                run_id,
                purpose=purpose,
                data_version=data_version,
                noise_multiplier=plan.noise_multiplier,
                sample_rate=plan.sample_rate,
                steps=plan.steps,
                delta=plan.delta,
                epsilon_rdp=report.rdp,
                epsilon_prv=report.prv,
                accountant_note=report.note,
                budget_used=report.rdp,
                max_epsilon=max_epsilon,
                **plan.details,
            )
