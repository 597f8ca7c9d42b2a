"""A finished vertical run at one node, as scoring needs it: every shared row's part.

The run's state folder keeps the intersection in join-key order (`intersection.npz`:
usable-row indices, join keys, which are held out) and the encoded rows split into
training and held-out ones (`features.npz`). Scoring needs every shared customer, so
the two splits are put back in join-key order and the party's trained sub-model
computes each one's contribution once, at start-up.

A shared customer whose consent for the joint purpose no longer holds today (withdrawn
or expired since the run was admitted) is left out: neither party scores with the
other's half for them any more. The party's table must be the one the run was admitted
on (its rows are what the intersection indexes); a changed table needs a new run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import numpy.typing as npt

from fedscore.core.errors import ConfigError
from fedscore.vertical.node.psi_stages import INTERSECTION, table_of
from fedscore.vertical.node.run_folder import RunFolder
from fedscore.vertical.node.training_stages import FEATURES, TRAINER
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.party_table import PartyTable, load_party_table
from fedscore.vertical.request import VerticalTerms
from fedscore.vertical.roles import Role
from fedscore.vertical.training.feature_side import FeatureSide
from fedscore.vertical.training.label_side import LabelSide

#: Bytes of a join key (a ristretto255 point).
JOIN_KEY_BYTES = 32


@dataclass(frozen=True)
class SharedRows:
    """One party's half of a finished run, for every shared customer still consented.

    Attributes:
        run_id: the run.
        terms: its signed terms (who the bank and the facilitator are).
        model_version: "<run id>:<sha256 of the party's trainer.state>".
        table: the party's usable rows as the run admitted them.
        rows: per shared customer kept, its index in `table`'s rows.
        join_keys: per shared customer kept, its join key (32 bytes).
        contributions: per shared customer kept, the party's part of the joint logit.
        consented_keys: the customer keys of the party's rows usable today (consent
            for the joint purpose valid today).
    """

    run_id: str
    terms: VerticalTerms
    model_version: str
    table: PartyTable
    rows: npt.NDArray[np.int64]
    join_keys: list[bytes]
    contributions: npt.NDArray[np.float64]
    consented_keys: frozenset[str]


def load_shared_rows(
    config: VerticalNodeConfig, run_id: str, today: date | None = None
) -> SharedRows:
    """The party's contributions to run `run_id` for its shared customers (see the module).

    Args:
        config: the node's vertical config.
        run_id: a run this node took part in to the end.
        today: the date consent is checked on (default: today, UTC).

    Raises:
        ConfigError: the run is unknown here, did not intersect or finish training, or
            the table changed since the run was admitted.
        FedscoreError: the run's state files are unreadable or inconsistent.
    """
    folder = RunFolder(config, run_id)
    terms = folder.terms()
    table = table_of(config, folder)
    shared = folder.arrays(INTERSECTION)
    stored = folder.arrays(FEATURES)
    rows = np.asarray(shared["rows"], dtype=np.int64)
    held_out = np.asarray(shared["test"], dtype=bool)
    keys = np.asarray(shared["join_keys"], dtype=np.uint8)
    train, test = stored["train"], stored["test"]
    if len(train) != int((~held_out).sum()) or len(test) != int(held_out.sum()):
        raise ConfigError(f"run {run_id}: features.npz does not match intersection.npz")
    encoded = np.empty((len(rows), train.shape[1]), dtype=np.float32)
    encoded[~held_out], encoded[held_out] = train, test
    trainer = folder.file(TRAINER)
    side: LabelSide | FeatureSide = (
        LabelSide.load(trainer, train)
        if config.role is Role.LABEL_HOLDER
        else FeatureSide.load(trainer, train)
    )
    if not side.finished:
        raise ConfigError(f"run {run_id} has not finished training at {config.party}")
    contributions = side.contributions_for(encoded).astype(np.float64)
    version = f"{run_id}:{hashlib.sha256(trainer.read_bytes()).hexdigest()}"
    current = load_party_table(config, today or datetime.now(UTC).date())
    consented_keys = frozenset(current.customer_keys)
    consented = np.fromiter(
        (table.customer_keys[row] in consented_keys for row in rows), dtype=bool, count=len(rows)
    )
    return SharedRows(
        run_id=run_id,
        terms=terms,
        model_version=version,
        table=table,
        rows=rows[consented],
        join_keys=[bytes(key) for key in keys[consented]],
        contributions=contributions[consented],
        consented_keys=consented_keys,
    )
