"""A training round at a node, in the order the privacy guarantee depends on.

1. decode the request; check the state folder is this party's;
2. admit the run (signed request, policy, caps: `clients/admission.py`) before any data
   is read;
3. load, validate, consent-filter, de-identify and encode the local table;
4. score the received global model, the previous round's result, on the validation
   rows (federated evaluation folded into training: `evaluate.py`);
5. answer a round asked again with the same model by re-sending the committed update
   (`replay.py`);
6. load the party's accountant for (task, data version), fix the run's noise, refuse
   the round if it would pass the budget (`budget.py`);
7. train with DP-SGD, then commit the accountant, the round's record, its ledger entry
   and the update in one write transaction (`transaction.py`), which also checks that no
   other process charged this data version meanwhile; only then is the update released;
8. encode the reply (`replies.py`).
A refusal after the data was read is committed and ledgered too, never skipped.
"""

from __future__ import annotations

import dataclasses
import secrets

import torch
from flwr.app import ArrayRecord, RecordDict

from fedscore.clients.admission import admit
from fedscore.clients.journal import AccountantKey
from fedscore.clients.rounds import budget
from fedscore.clients.rounds.context import NodeContext, RoundHandler, claimed_request
from fedscore.clients.rounds.evaluate import scored
from fedscore.clients.rounds.replay import global_model_sha256, replayed_reply
from fedscore.clients.rounds.replies import (
    backed_by,
    not_trained,
    spent_metrics,
    status_of,
)
from fedscore.clients.rounds.request import check_global_model, model_from
from fedscore.clients.rounds.transaction import (
    RoundState,
    Training,
    commit_refused,
    commit_trained,
    open_journal,
)
from fedscore.clients.training import LocalSchedule, train_locally
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.errors import FedscoreError
from fedscore.core.protocol import Evaluation, PartyReport, Status, TrainReply, TrainRequest
from fedscore.core.schema import load_schema
from fedscore.privacy.accounting import PartyAccountant
from fedscore.privacy.dp_sgd import DpSgd, LocalPrivacy, MechanismParams, NoPrivacy


def answer_training(context: NodeContext, content: RecordDict) -> TrainReply:
    """Run the training round `content` asks for at this node; returns its reply."""
    node = context.node
    try:
        request = claimed_request(context, content, TrainRequest)
        journal = open_journal(node, context.on_statement)
    except FedscoreError as problem:
        return not_trained(node, Status.FAILED, str(problem))
    instructions = request.request
    state = RoundState(node, instructions, journal)
    evaluation: Evaluation | None = None
    try:
        schema = load_schema(node.task_path)
        state.admission = admit(node, schema, instructions, context.app_sha256)
        check_global_model(request.model, state.run, FeatureEncoder(schema).n_features)
        state.data = context.load_data(node, schema)
        state.data.report.write(node.report_path(instructions.run_id))
        if instructions.server_round > 1:
            evaluation = scored(request.model, state.run, state.data)
        state.key = AccountantKey(node.party, schema.name, state.data.data_version)
        model_sha256 = global_model_sha256(request.model)
        earlier = journal.released(state.key, instructions.run_id, instructions.server_round)
        if earlier is not None and earlier[0].request_sha256 == model_sha256:
            reply = replayed_reply(node, state.data, *earlier)
        else:
            reply = _train_and_commit(state, request.model, model_sha256)
    except FedscoreError as problem:
        reply = _not_trained_reply(state, problem)
    return dataclasses.replace(reply, evaluation=evaluation)


def _train_and_commit(state: RoundState, arrays: ArrayRecord, model_sha256: str) -> TrainReply:
    """Steps 5 to 7: budget, DP-SGD, the commit; the reply with the released update."""
    node, run, journal, data, key = state.node, state.run, state.journal, state.data, state.key
    assert data is not None and key is not None
    started = journal.load(key)
    accountant = PartyAccountant.from_state_dict(started.state_dict())
    schedule = LocalSchedule.for_party(run, len(data.train_y))
    mechanism: MechanismParams | None = None
    privacy: LocalPrivacy
    if run.private:
        budget.check_delta(run, len(data.train_y))
        mechanism = budget.run_mechanism(journal, key, state.request.run_id, run, schedule)
        spent_before = budget.earlier_spend(journal, key, node, run, schedule.delta)
        budget.check_budget(node, accountant, mechanism, schedule, run, spent_before)
        pure_spent_checked: float | None = spent_before.pure_releases
        privacy = DpSgd(mechanism, accountant)
    else:
        pure_spent_checked = None
        privacy = NoPrivacy(accountant)
    model = model_from(arrays, run, data.train_x.shape[1])
    sampling = torch.Generator().manual_seed(secrets.randbits(62))
    trained, result = train_locally(
        model, data.train_x, data.train_y, run, schedule, privacy, sampling
    )
    report = accountant.report(schedule.delta)
    metrics = dataclasses.replace(
        spent_metrics(node, report),
        num_examples=len(data.train_y),
        noise_multiplier=mechanism.noise_multiplier if mechanism else 0.0,
        sample_rate=schedule.sample_rate,
        steps=result.steps,
        train_loss=result.mean_loss,
    )
    training = Training(mechanism, schedule.sample_rate, result.steps, report, metrics)
    update = ArrayRecord(trained.state_dict())
    released = (model_sha256, update)
    entry = commit_trained(state, accountant, started, training, released, pure_spent_checked)
    party = PartyReport(node.party, Status.TRAINED, note=report.note)
    return TrainReply(backed_by(party, data, entry), metrics, update)


def _not_trained_reply(state: RoundState, problem: FedscoreError) -> TrainReply:
    """The reply of a round that did not train; recorded and ledgered once data was read."""
    node, status = state.node, status_of(problem)
    if state.key is None or state.data is None:
        return not_trained(node, status, str(problem))
    spent, entry = commit_refused(state, str(problem))
    party = PartyReport(node.party, status, str(problem))
    return TrainReply(backed_by(party, state.data, entry), spent_metrics(node, spent))


train_round = RoundHandler(answer_training, TrainRequest)
