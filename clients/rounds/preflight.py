"""Before round 1: can this node take part in the run at all? Nothing is spent here.

The coordinator asks every party before the first round (and `fedscore train` asks every
simulated party before Flower starts), so a run no party could finish never starts and
the model owner gets every party's problems at once. A node checks, without training or
charging anything and without recording the run as accepted:

- the run: admission as for a round (signed request, policy, caps), as a dry run;
- its table: validation, consent, de-identification (errors name file, row, column);
- the label: both classes among its training rows;
- delta below 1/N of its training rows; the batch size below N (else every step sees
  every row: no subsampling, and the noise multiplier explodes);
- the budget: the epsilon after the whole run, with what was spent before on this
  budget, within `max_epsilon`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flwr.app import ConfigRecord, RecordDict

from fedscore.clients.admission import admit
from fedscore.clients.data_cache import load_cached_party_data
from fedscore.clients.journal import AccountantKey, NodeJournal
from fedscore.clients.local_data import PartyData, PartyDataLoader
from fedscore.clients.node import NodeConfig
from fedscore.clients.node_state import claim_state
from fedscore.clients.rounds import budget
from fedscore.clients.rounds.context import NodeContext
from fedscore.clients.rounds.replies import status_of
from fedscore.clients.training import LocalSchedule
from fedscore.core.errors import FedscoreError
from fedscore.core.protocol import (
    PartyReport,
    ReadinessQuery,
    ReadinessReply,
    Status,
)
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import load_schema
from fedscore.core.signing import SigningKey
from fedscore.privacy.accounting import PartyAccountant


@dataclass
class Readiness:
    """A node's answer before round 1.

    Attributes:
        problems: why it cannot take part (empty: it can).
        status: "ready", or the outcome a round would have ("declined", "failed").
        training_rows: rows it would train on (0 when its table could not be loaded).
    """

    problems: list[str] = field(default_factory=list)
    status: Status = Status.READY
    training_rows: int = 0


def check_readiness(
    node: NodeConfig, config: ConfigRecord, load_data: PartyDataLoader = load_cached_party_data
) -> Readiness:
    """Every reason this node could not take part in the run `config` describes (simulation).

    Args:
        node: this node's configuration.
        config: the coordinator's round instructions (server round 0).
        load_data: how the node loads its de-identified, encoded table (by default
            through its on-disk cache, which the rounds then find filled).
    """
    return _readiness(NodeContext(node, load_data), ReadinessQuery.content(config))


def _readiness(context: NodeContext, content: RecordDict) -> Readiness:
    """Every reason the node could not take part in the run the readiness query describes."""
    node, readiness = context.node, Readiness()
    try:
        request = ReadinessQuery.from_record(content).request
        claim_state(node.state_dir, node.party, record=False)
        if node.ledger_key.exists():  # (created at the first round)
            SigningKey.load(node.ledger_key)
        schema = load_schema(node.task_path)
        run = admit(node, schema, request, context.app_sha256, dry_run=True).run
        data = context.load_data(node, schema)
    except FedscoreError as problem:
        return Readiness([str(problem)], status_of(problem))
    readiness.training_rows = len(data.train_y)
    readiness.problems = _data_problems(run, data) + _budget_problems(node, run, data, schema.name)
    if readiness.problems:
        readiness.status = Status.REFUSED
    return readiness


def _data_problems(run: RunConfig, data: PartyData) -> list[str]:
    rows = len(data.train_y)
    found: list[str] = []
    classes = {float(value) for value in set(data.train_y.tolist())}
    if len(classes) < 2:
        found.append(
            f"the label has a single class among this node's {rows} training rows: the model "
            "cannot learn from it (both defaulters and non-defaulters are needed)"
        )
    if run.private:
        try:
            budget.check_delta(run, rows)
        except FedscoreError as problem:
            found.append(str(problem))
    if not run.automatic and run.batch_size >= rows:
        found.append(
            f"batch_size {run.batch_size} is not below this node's {rows} training rows: "
            "every step would see every row; lower batch_size"
        )
    return found


def _budget_problems(node: NodeConfig, run: RunConfig, data: PartyData, task: str) -> list[str]:
    """Whether the whole run fits in what is left of the node's budget."""
    if not run.private or (not run.automatic and run.batch_size >= len(data.train_y)):
        return []
    schedule = LocalSchedule.for_party(run, len(data.train_y))
    mechanism = schedule.calibrated_mechanism(run)
    earlier, current = 0.0, PartyAccountant()
    if node.accountant_db.exists():  # else: this node never spent anything
        journal = NodeJournal(node.accountant_db, ledger_hash=node.ledger_hash)
        key = AccountantKey(node.party, task, data.data_version)
        earlier = budget.earlier_spend(journal, key, node, run, schedule.delta).total
        current = journal.load(key)
    spent = earlier + current.epsilon(schedule.delta, run.accountant)
    after = earlier + current.projected(
        mechanism.noise_multiplier, mechanism.sample_rate, run.rounds * schedule.steps_per_round
    ).epsilon(schedule.delta, run.accountant)
    if after <= node.max_epsilon + budget.BUDGET_TOLERANCE:
        return []
    return [
        f"privacy budget: the run would raise epsilon ({run.accountant.upper()}) from "
        f"{spent:.4f} to {after:.4f}, beyond this node's max_epsilon {node.max_epsilon:g}"
    ]


def readiness_reply(node: NodeConfig, readiness: Readiness) -> ReadinessReply:
    """The node's answer to the coordinator's question before round 1."""
    party = PartyReport(node.party, readiness.status, "; ".join(readiness.problems))
    return ReadinessReply(party, readiness.training_rows)


def answer_readiness(context: NodeContext, content: RecordDict) -> ReadinessReply:
    """The node's answer to the readiness query `content`."""
    return readiness_reply(context.node, _readiness(context, content))
