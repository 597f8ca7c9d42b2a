"""Pure ε-DP releases outside DP-SGD, charged to a party's budget beside its training.

A release (such as a drafted schema's DP bounds) is about the party's customers, not
about one task's data version: it counts against every task trained in its budget
epoch, by basic composition. It is recorded in the `pure_release` table and in the
signed ledger in one transaction, before the released figures are shown to anyone.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, datetime

from fedscore.clients.journal.records import PureRelease
from fedscore.clients.journal.statements import insert
from fedscore.core.errors import FedscoreError
from fedscore.core.signing import SigningKey
from fedscore.privacy.accounting import PartyAccountant
from fedscore.privacy.ledger import LedgerEntry, append_entry
from fedscore.privacy.ledger.kinds import PURE_RELEASE_KIND

# Slack for float rounding when a release spends exactly what is left.
_TOLERANCE = 1e-9

_SPENT = (
    "SELECT COALESCE(SUM(epsilon), 0) AS spent FROM pure_release "
    "WHERE party=:party AND epoch=:epoch"
)
# Every data version trained in the epoch, with the δ of its last trained round.
_TRAINED = (
    "SELECT a.task, a.state, (SELECT r.delta FROM round r WHERE r.party=a.party AND "
    "r.task=a.task AND r.data_version=a.data_version AND r.status='trained' "
    "ORDER BY r.created_at DESC LIMIT 1) AS delta "
    "FROM accountant a JOIN budget_epoch b USING (party, task, data_version) "
    "WHERE a.party=:party AND b.epoch=:epoch"
)
_SAVE = insert(
    "pure_release",
    ("party", "epoch", "mechanism", "epsilon", "data_sha256", "ledger_seq", "created_at"),
)


class PureReleaseRefused(FedscoreError):
    """The release would take the party past its budget; nothing was recorded."""


def pure_spent(db: sqlite3.Connection, party: str, epoch: str) -> float:
    """ε of every pure release of `party` charged to `epoch`, added up."""
    return float(db.execute(_SPENT, {"party": party, "epoch": epoch}).fetchone()["spent"])


def most_trained(db: sqlite3.Connection, party: str, epoch: str) -> float:
    """The largest DP-SGD spend of one task of `party` in `epoch` (RDP, summed over versions).

    Each data version's ε is read at the δ of its last trained round.
    """
    by_task: dict[str, float] = defaultdict(float)
    for row in db.execute(_TRAINED, {"party": party, "epoch": epoch}):
        if row["delta"] is not None:
            accountant = PartyAccountant.from_state_dict(json.loads(row["state"]))
            by_task[str(row["task"])] += accountant.epsilon(float(row["delta"]), "rdp")
    return max(by_task.values(), default=0.0)


def charge(
    db: sqlite3.Connection,
    release: PureRelease,
    max_epsilon: float,
    signer: SigningKey,
    ledger_hash: str,
    details: dict[str, object],
) -> LedgerEntry:
    """Record `release` and its ledger entry (call inside a write transaction).

    Args:
        db: the journal, inside the caller's write transaction.
        release: what is released, at what ε, charged to which epoch.
        max_epsilon: the party's budget.
        signer: the node's ledger key.
        ledger_hash: the hash algorithm of the new ledger link.
        details: further facts for the ledger entry (columns, rows: never a value).

    Raises:
        PureReleaseRefused: a task trained in the epoch plus every pure release, this one
            included, would pass `max_epsilon`.
    """
    before = pure_spent(db, release.party, release.epoch)
    trained = most_trained(db, release.party, release.epoch)
    after = trained + before + release.epsilon
    if after > max_epsilon + _TOLERANCE:
        raise PureReleaseRefused(
            f"privacy budget: ε {release.epsilon:g} would bring {release.party}'s spend in "
            f"budget epoch '{release.epoch}' to {after:.4f} (training {trained:.4f}, earlier "
            f"releases {before:.4f}), beyond its max_epsilon {max_epsilon:g}; nothing was "
            "released or recorded"
        )
    created_at = datetime.now(UTC).isoformat(timespec="microseconds")
    content = {
        "kind": PURE_RELEASE_KIND,
        "party": release.party,
        "mechanism": release.mechanism,
        "epsilon": release.epsilon,
        "delta": 0.0,
        "data_sha256": release.data_sha256,
        "budget_epoch": release.epoch,
        "epsilon_pure_releases": before + release.epsilon,
        "epsilon_trained": trained,
        "max_epsilon": max_epsilon,
        "budget_remaining": max_epsilon - after,
        "created_at": created_at,
        **details,
    }
    entry = append_entry(db, content, signer, ledger_hash)
    db.execute(_SAVE, {**asdict(release), "ledger_seq": entry.seq, "created_at": created_at})
    return entry
