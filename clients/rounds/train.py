"""A training round at a node, in the order the privacy guarantee depends on.

1. decode the round's instructions; check the state folder is this party's;
2. admit the run (signed request, policy, caps: `clients/admission.py`) before any data
   is read;
3. load, validate, consent-filter, de-identify and encode the local table;
4. answer a round asked again with the same model by re-sending the committed update;
5. load the party's accountant for (task, data version), fix the run's noise, refuse
   the round if it would pass the budget (`budget.py`);
6. train with DP-SGD, then commit the accountant, the round's record, its ledger entry
   and the update in one write transaction, which also checks that no other process
   charged this data version meanwhile; only then is the update released.
A refusal after the data was read is committed and ledgered too, never skipped.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

import torch
from flwr.app import ArrayRecord, ConfigRecord, RecordDict

from fedscore.clients.admission import Admission, admit
from fedscore.clients.journal import AccountantKey, NodeJournal, ReleasedUpdate, RoundRecord
from fedscore.clients.local_data import PartyData, PartyDataLoader, load_party_data
from fedscore.clients.node import NodeConfig
from fedscore.clients.node_state import claim_state
from fedscore.clients.rounds import budget
from fedscore.clients.rounds.replay import (
    arrays_to_npz,
    global_model_sha256,
    replayed_reply,
)
from fedscore.clients.rounds.replies import (
    epsilon_metrics,
    not_trained,
    party_record,
    status_of,
)
from fedscore.clients.rounds.request import RoundRequest, model_from
from fedscore.clients.training import LocalSchedule, train_locally
from fedscore.core import protocol
from fedscore.core.errors import FedscoreError
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import load_schema
from fedscore.core.signing import SigningKey
from fedscore.privacy.accounting import EpsilonReport, PartyAccountant
from fedscore.privacy.dp_sgd import DpSgd, LocalPrivacy, MechanismParams, NoPrivacy


@dataclass
class _Round:
    """What a round has established so far (more as it goes)."""

    node: NodeConfig
    request: RoundRequest
    journal: NodeJournal
    run: RunConfig
    admission: Admission
    data: PartyData | None = None
    key: AccountantKey | None = None


def train_round(
    node: NodeConfig,
    arrays: ArrayRecord,
    config: ConfigRecord,
    load_data: PartyDataLoader = load_party_data,
    app_sha256: str | None = None,
) -> RecordDict:
    """Run one training round at this node; returns the reply's content.

    Args:
        node: this node's configuration.
        arrays: the global model the round starts from.
        config: the coordinator's round instructions (and the signed run request).
        load_data: how the node loads its de-identified, encoded table.
        app_sha256: the app release the deployment's task runner verified (None in
            simulation).
    """
    try:
        request = RoundRequest.from_config(config)
        claim_state(node.state_dir, node.party)
        journal = NodeJournal(
            node.accountant_db,
            signer=SigningKey.load_or_create(node.ledger_key),
            ledger_hash=node.ledger_hash,
        )
    except FedscoreError as problem:
        return not_trained(node, protocol.FAILED, str(problem))
    current = _Round(node, request, journal, request.run, Admission(request.run))
    try:
        schema = load_schema(node.task_path)
        current.admission = admit(node, schema, config, request.run, app_sha256)
        current.run = current.admission.run
        current.data = load_data(node, schema)
        current.data.report.write(node.report_path(request.run_id))
        current.key = AccountantKey(node.party, schema.name, current.data.data_version)
        model_sha256 = global_model_sha256(arrays)
        earlier = journal.released(current.key, request.run_id, request.server_round)
        if earlier is not None and earlier[0].request_sha256 == model_sha256:
            return replayed_reply(node, current.data, *earlier)
        return _train_and_commit(current, arrays, model_sha256)
    except FedscoreError as problem:
        return _not_trained_reply(current, problem)


def _train_and_commit(current: _Round, arrays: ArrayRecord, model_sha256: str) -> RecordDict:
    """Steps 5 and 6: budget, DP-SGD, the commit; the reply with the released update."""
    node, run, journal, data, key = (
        current.node,
        current.run,
        current.journal,
        current.data,
        current.key,
    )
    assert data is not None and key is not None
    started = journal.load(key)
    accountant = PartyAccountant.from_state_dict(started.state_dict())
    schedule = LocalSchedule.for_party(run, len(data.train_y))
    mechanism: MechanismParams | None = None
    privacy: LocalPrivacy
    if run.private:
        budget.check_delta(run, len(data.train_y))
        mechanism = budget.run_mechanism(journal, key, current.request.run_id, run, schedule)
        spent_before = budget.earlier_spend(journal, key, node, run)
        budget.check_budget(node, accountant, mechanism, schedule, run, spent_before)
        privacy = DpSgd(mechanism, accountant)
    else:
        privacy = NoPrivacy(accountant)
    model = model_from(arrays, run, data.train_x.shape[1])
    sampling = torch.Generator().manual_seed(secrets.randbits(62))
    trained, result = train_locally(
        model, data.train_x, data.train_y, run, schedule, privacy, sampling
    )
    report = accountant.report(run.delta)
    metrics = epsilon_metrics(report.rdp, report.prv, len(data.train_y), node.max_epsilon)
    metrics["noise-multiplier"] = mechanism.noise_multiplier if mechanism else 0.0
    metrics["sample-rate"] = schedule.sample_rate
    metrics["steps"] = result.steps
    metrics["train-loss"] = result.mean_loss
    update = ArrayRecord(trained.state_dict())
    record = RoundRecord(
        run_id=current.request.run_id,
        server_round=current.request.server_round,
        status=protocol.TRAINED,
        reason="",
        noise_multiplier=mechanism.noise_multiplier if mechanism else 0.0,
        sample_rate=schedule.sample_rate,
        steps=result.steps,
        max_grad_norm=run.max_grad_norm if mechanism else None,
        delta=run.delta,
        epsilon_rdp=report.rdp,
        epsilon_prv=report.prv,
        max_epsilon=node.max_epsilon,
    )
    entry = journal.commit_round(
        key,
        accountant,
        record,
        _ledger_details(current, report.by(run.accountant)),
        budget_epoch=journal.epoch_of(key, node.budget_epoch),
        released=ReleasedUpdate(
            model_sha256, arrays_to_npz(update), json.dumps(dict(metrics.items()))
        ),
        started_from=started,
    )
    return RecordDict(
        {
            protocol.ARRAYS: update,
            protocol.METRICS: metrics,
            protocol.PARTY: party_record(
                node, protocol.TRAINED, note=report.note, data=data, ledger_entry=entry
            ),
        }
    )


def _not_trained_reply(current: _Round, problem: FedscoreError) -> RecordDict:
    """The reply of a round that did not train; recorded and ledgered once data was read."""
    node, status = current.node, status_of(problem)
    if current.key is None or current.data is None:
        return not_trained(node, status, str(problem))
    run, journal = current.run, current.journal
    spent: EpsilonReport = journal.load(current.key).report(run.delta)
    entry = journal.commit_round(
        current.key,
        journal.load(current.key),
        RoundRecord(
            run_id=current.request.run_id,
            server_round=current.request.server_round,
            status=protocol.REFUSED,
            reason=str(problem),
            noise_multiplier=None,
            sample_rate=None,
            steps=None,
            max_grad_norm=run.max_grad_norm,
            delta=run.delta,
            epsilon_rdp=None,
            epsilon_prv=None,
            max_epsilon=node.max_epsilon,
        ),
        _ledger_details(current, spent.by(run.accountant)),
    )
    return RecordDict(
        {
            protocol.METRICS: epsilon_metrics(spent.rdp, spent.prv, 0, node.max_epsilon),
            protocol.PARTY: party_record(
                node, status, str(problem), data=current.data, ledger_entry=entry
            ),
        }
    )


def _ledger_details(current: _Round, spent: float) -> dict[str, object]:
    """What the round's ledger entry records besides the round itself."""
    node, run, journal, data, key = (
        current.node,
        current.run,
        current.journal,
        current.data,
        current.key,
    )
    assert data is not None and key is not None
    earlier = budget.earlier_spend(journal, key, node, run)
    return {
        **current.admission.ledger_details(),
        "sampler": "poisson",
        "private": run.private,
        "accountant": run.accountant,
        "epsilon_spent": spent,
        "budget_epoch": journal.epoch_of(key, node.budget_epoch),
        "epsilon_earlier_data_versions": earlier,
        "budget_remaining": node.max_epsilon - spent - earlier,
        "deidentification_report_sha256": data.report.sha256(),
        "consent": data.report.consent,
    }
