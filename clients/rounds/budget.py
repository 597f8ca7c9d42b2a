"""A round's privacy cost: the run's noise (fixed at its first round) and the budget check.

The noise is calibrated once per run, for rounds × local epochs × steps, and saved with
the run, so every round (even after a restart) uses the same mechanism. Before a round
trains, the node projects the epsilon it would reach and refuses the round if that
passes its `max_epsilon` (including what earlier data versions of the same budget
spent). The check holds at commit time too: the journal refuses to commit a round whose
accountant changed meanwhile (`NodeJournal.commit_round(started_from=...)`).
"""

from __future__ import annotations

from dataclasses import dataclass

from fedscore.clients.journal import AccountantKey, NodeJournal
from fedscore.clients.node import NodeConfig
from fedscore.clients.rounds.replies import NodeRefusal
from fedscore.clients.training import LocalSchedule
from fedscore.core.runconfig import RunConfig
from fedscore.privacy.accounting import PartyAccountant
from fedscore.privacy.dp_sgd import MechanismParams

# Slack for float rounding when a run is calibrated to exactly the node's budget.
BUDGET_TOLERANCE = 1e-9


def check_delta(run: RunConfig, n_records: int) -> None:
    """The run's delta at this node must be below 1/N of its training rows.

    A run that sets no delta gets one far below 1/N (`RunConfig.delta_for`).

    Raises:
        NodeRefusal: it is not.
    """
    if n_records < 1:
        raise NodeRefusal("no training rows are left after consent and de-identification")
    delta = run.delta_for(n_records)
    if delta >= 1.0 / n_records:
        raise NodeRefusal(
            f"delta {delta:g} is not below 1/N = {1.0 / n_records:.3g} for this node's "
            f"{n_records} training rows; lower the run's delta or leave it unset (each party "
            "then gets a delta of at most 1/(10·N))"
        )


def run_mechanism(
    store: NodeJournal,
    key: AccountantKey,
    run_id: str,
    run: RunConfig,
    schedule: LocalSchedule,
) -> MechanismParams:
    """The run's noise, calibrated at its first round and then fixed for all rounds."""
    plan = store.plan(key, run_id)
    if plan is None:
        plan = {
            "noise_multiplier": schedule.calibrated_mechanism(run).noise_multiplier,
            "sample_rate": schedule.sample_rate,
            "expected_batch_size": schedule.expected_batch_size,
            # What the party trains with (the automatic rule's choice, or the run's).
            "steps_per_round": float(schedule.steps_per_round),
            "learning_rate": schedule.step_size(run),
            "max_grad_norm": schedule.clipping(run),
            "auto_settings": 1.0 if schedule.auto else 0.0,
        }
        store.save_plan(key, run_id, plan)
    return MechanismParams(
        noise_multiplier=float(plan["noise_multiplier"]),
        sample_rate=float(plan["sample_rate"]),
        max_grad_norm=schedule.clipping(run),
        expected_batch_size=int(plan["expected_batch_size"]),
    )


@dataclass(frozen=True)
class SpentElsewhere:
    """Epsilon a party already drew from a round's budget outside that data version's DP-SGD.

    Attributes:
        data_versions: its other data versions' DP-SGD (same task, same budget epoch).
        pure_releases: its pure ε-DP releases charged to the epoch (a drafted schema's
            DP bounds): they count for every task.
    """

    data_versions: float
    pure_releases: float

    @property
    def total(self) -> float:
        return self.data_versions + self.pure_releases


def earlier_spend(
    store: NodeJournal, key: AccountantKey, node: NodeConfig, run: RunConfig, delta: float
) -> SpentElsewhere:
    """Epsilon the party's other data versions and its pure releases drew from the same budget.

    Summed (basic composition): valid however much the versions' customers overlap.

    Args:
        store: the node's journal.
        key: the accountant of the data version the round charges.
        node: this node's configuration (its budget epoch).
        run: the run (its accountant).
        delta: the δ of this round's guarantee, at which every version's spend is read.
    """
    epoch = store.epoch_of(key, node.budget_epoch)
    versions = sum(a.epsilon(delta, run.accountant) for a in store.earlier_versions(key, epoch))
    return SpentElsewhere(versions, store.pure_spent(key.party, epoch))


def check_budget(
    node: NodeConfig,
    accountant: PartyAccountant,
    mechanism: MechanismParams,
    schedule: LocalSchedule,
    run: RunConfig,
    elsewhere: SpentElsewhere,
) -> None:
    """Refuse a round that would take the party's epsilon past its `max_epsilon`.

    Raises:
        NodeRefusal: the round would.
    """
    earlier = elsewhere.total
    projected = earlier + accountant.projected(
        mechanism.noise_multiplier, mechanism.sample_rate, schedule.steps_per_round
    ).epsilon(schedule.delta, run.accountant)
    if projected > node.max_epsilon + BUDGET_TOLERANCE:
        spent = earlier + accountant.epsilon(schedule.delta, run.accountant)
        parts = [
            f"{spent_on:.4f} on {what}"
            for spent_on, what in (
                (elsewhere.data_versions, "earlier data versions"),
                (elsewhere.pure_releases, "pure releases outside training"),
            )
            if spent_on
        ]
        previous = f" (of which {' and '.join(parts)})" if parts else ""
        raise NodeRefusal(
            f"privacy budget: this round would raise epsilon ({run.accountant.upper()}) from "
            f"{spent:.4f}{previous} to {projected:.4f}, beyond this node's max_epsilon "
            f"{node.max_epsilon:g}"
        )
