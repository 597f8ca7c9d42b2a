"""A round's journal transaction: its record, its ledger entry and its update, in one write.

Every round that read data is recorded and ledgered, trained or refused; a trained
round's update is kept with it, so the same request can be answered again at no cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flwr.app import ArrayRecord

from fedscore.clients.admission import Admission
from fedscore.clients.journal import (
    AccountantKey,
    NodeJournal,
    ReleasedUpdate,
    RoundRecord,
    StatementHook,
)
from fedscore.clients.local_data import PartyData
from fedscore.clients.node import NodeConfig
from fedscore.clients.rounds import budget
from fedscore.clients.rounds.replay import arrays_to_npz
from fedscore.clients.training import LocalSchedule
from fedscore.core.protocol import RoundRequest, Status, TrainMetrics
from fedscore.core.runconfig import RunConfig
from fedscore.core.signing import SigningKey
from fedscore.privacy.accounting import EpsilonReport, PartyAccountant
from fedscore.privacy.dp_sgd import MechanismParams
from fedscore.privacy.ledger import LedgerEntry


def open_journal(node: NodeConfig, on_statement: StatementHook | None = None) -> NodeJournal:
    """The node's journal, signing ledger entries with its ledger key (created if new).

    Args:
        node: this node's configuration.
        on_statement: the journal's SQL hook (None: none).
    """
    return NodeJournal(
        node.accountant_db,
        signer=SigningKey.load_or_create(node.ledger_key),
        ledger_hash=node.ledger_hash,
        on_statement=on_statement,
    )


@dataclass
class RoundState:
    """What a round has established so far (more as it goes).

    Attributes:
        node: this node's configuration.
        request: the coordinator's instructions.
        journal: the node's journal.
        admission: the run as the node accepted it (until admitted: the settings the
            coordinator states, unsigned).
        data: the node's table (once read).
        key: the accountant the round charges (once the data version is known).
    """

    node: NodeConfig
    request: RoundRequest
    journal: NodeJournal
    admission: Admission = field(init=False)
    data: PartyData | None = None
    key: AccountantKey | None = None

    def __post_init__(self) -> None:
        self.admission = Admission(self.request.run)

    @property
    def run(self) -> RunConfig:
        """The settings the round runs with."""
        return self.admission.run

    @property
    def delta(self) -> float:
        """The δ of this party's guarantee in this round (from its training rows, once read)."""
        return self.run.delta_for(len(self.data.train_y) if self.data is not None else 0)


@dataclass(frozen=True)
class Training:
    """What a trained round used and spent.

    Attributes:
        mechanism: the DP-SGD mechanism (None for a non-private run).
        sample_rate: the Poisson sampling rate.
        steps: the steps taken.
        spent: the party's epsilon after the round.
        metrics: the reply's figures.
    """

    mechanism: MechanismParams | None
    sample_rate: float
    steps: int
    spent: EpsilonReport
    metrics: TrainMetrics


def _round_record(
    state: RoundState, status: Status, reason: str, training: Training | None
) -> RoundRecord:
    """The journal's record of the round (a refused one has no mechanism and no epsilon)."""
    run, request = state.run, state.request
    mechanism = training.mechanism if training else None
    noise = mechanism.noise_multiplier if mechanism else 0.0
    return RoundRecord(
        run_id=request.run_id,
        server_round=request.server_round,
        status=status.value,
        reason=reason,
        noise_multiplier=noise if training else None,
        sample_rate=training.sample_rate if training else None,
        steps=training.steps if training else None,
        max_grad_norm=_clipping(run.max_grad_norm, training),
        delta=state.delta,
        epsilon_rdp=training.spent.rdp if training else None,
        epsilon_prv=training.spent.prv if training else None,
        max_epsilon=state.node.max_epsilon,
    )


def _clipping(run_bound: float, training: Training | None) -> float | None:
    """The clipping bound a round record names.

    The mechanism's for a trained round; none for a non-private one; the run's for a
    refused one.
    """
    if training is None:
        return run_bound
    return training.mechanism.max_grad_norm if training.mechanism else None


def commit_trained(
    state: RoundState,
    accountant: PartyAccountant,
    started: PartyAccountant,
    training: Training,
    released: tuple[str, ArrayRecord],
    pure_spent_checked: float | None = None,
) -> LedgerEntry | None:
    """Commit a trained round with its update; returns its ledger entry.

    Args:
        state: the round.
        accountant: the party's accountant after the round.
        started: the accountant as the round loaded it (the commit fails if it changed).
        training: what the round used and spent.
        released: the hash of the global model the round started from, and the update.
        pure_spent_checked: the pure releases' ε its budget check counted (the commit
            fails if more was charged since); None for a round without a budget check.

    Raises:
        ConcurrentCharge: another process charged the data version, or a pure release,
            meanwhile.
    """
    assert state.key is not None
    model_sha256, update = released
    return state.journal.commit_round(
        state.key,
        accountant,
        _round_record(state, Status.TRAINED, "", training),
        ledger_details(state, training.spent.by(state.run.accountant)),
        budget_epoch=state.journal.epoch_of(state.key, state.node.budget_epoch),
        released=ReleasedUpdate(
            request_sha256=model_sha256,
            arrays=arrays_to_npz(update),
            metrics=training.metrics.to_json(),
        ),
        started_from=started,
        pure_spent_checked=pure_spent_checked,
    )


def commit_refused(state: RoundState, reason: str) -> tuple[EpsilonReport, LedgerEntry | None]:
    """Commit a round refused after the data was read.

    Returns the epsilon as it stands and the round's ledger entry.
    """
    assert state.key is not None
    accountant = state.journal.load(state.key)
    spent = accountant.report(state.delta)
    entry = state.journal.commit_round(
        state.key,
        accountant,
        _round_record(state, Status.REFUSED, reason, None),
        ledger_details(state, spent.by(state.run.accountant)),
    )
    return spent, entry


def ledger_details(state: RoundState, spent: float) -> dict[str, object]:
    """What the round's ledger entry records besides the round itself."""
    node, run, journal, data, key = state.node, state.run, state.journal, state.data, state.key
    assert data is not None and key is not None
    elsewhere = budget.earlier_spend(journal, key, node, run, state.delta)
    return {
        **state.admission.ledger_details(),
        "sampler": "poisson",
        "private": run.private,
        "accountant": run.accountant,
        "epsilon_spent": spent,
        "budget_epoch": journal.epoch_of(key, node.budget_epoch),
        "epsilon_earlier_data_versions": elsewhere.data_versions,
        "epsilon_pure_releases": elsewhere.pure_releases,
        "budget_remaining": node.max_epsilon - spent - elsewhere.total,
        "deidentification_report_sha256": data.report.sha256(),
        "consent": data.report.consent,
        # Batch, steps, learning rate, clipping: the automatic rule's choice and why, or
        # the run's own settings (from N, ε, δ and the model only: no record looked at).
        "training_settings": LocalSchedule.for_party(run, len(data.train_y)).settings(run),
    }
