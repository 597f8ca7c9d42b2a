"""What the node's journal keeps: whose budget, what each round cost, what was released.

Each record's fields are stored in SQL columns of the same names (`tables.py`), written
and read by name, so the order of the fields here is free.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AccountantKey:
    """Whose budget: one party's customers in one version of its data, for one task.

    Attributes:
        party: the institution whose customers the data describes.
        task: the scoring task (the task schema's name) the data is trained for.
        data_version: hash of the party's input table; a new table is a new version.
    """

    party: str
    task: str
    data_version: str


@dataclass(frozen=True)
class RoundRecord:
    """What one attempt at a round cost a party (or why it was refused).

    Attributes:
        run_id: the federated run the round belongs to.
        server_round: the round's number within the run (from 1).
        status: "trained" or "refused".
        reason: why the round was refused (empty when trained).
        noise_multiplier: the DP-SGD noise multiplier (0.0 without privacy; None when
            refused).
        sample_rate: the Poisson sampling rate of each step (None when refused).
        steps: the DP-SGD steps the round took (None when refused).
        max_grad_norm: the per-sample gradient clipping bound (None for a round
            trained without privacy).
        delta: the run's target delta.
        epsilon_rdp: cumulative epsilon (RDP accountant) on this data version after the
            round (None when refused).
        epsilon_prv: the same by the PRV accountant (None when refused or where PRV
            failed).
        max_epsilon: the node's budget on this data version when the round ran.
        created_at: when the round was committed (ISO 8601, UTC); empty until then,
            the journal stamps it.
        attempt: which attempt at this round of this run (1, or more after a crash);
            the journal numbers it on commit.
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


@dataclass(frozen=True)
class PureRelease:
    """A pure ε-DP release about a party's customers made outside DP-SGD.

    Such as the DP bounds of a drafted task schema. It draws on the party's budget in its
    epoch for every task (basic composition: valid whatever the tasks' rows share).

    Attributes:
        party: whose customers the released figures describe.
        epoch: the budget epoch it is charged to.
        mechanism: what was released, and how (`"schema_draft_bounds/sparse_vector"`).
        epsilon: its ε (δ = 0).
        data_sha256: SHA-256 of the file the figures were computed from.
    """

    party: str
    epoch: str
    mechanism: str
    epsilon: float
    data_sha256: str
