"""What a node does when the server asks it to train or evaluate one round.

Order of a training round, which the privacy guarantee depends on:
1. load, validate, consent-filter and encode the local table;
2. load this party's accountant for (task, data version) from disk;
3. fix the run's noise once (calibrated for rounds × local epochs × steps);
4. refuse the round if it would push epsilon past the node's `max_epsilon`;
5. train with DP-SGD, then commit the accountant, the round record, its ledger entry
   and the update in one transaction; only then is the update released.

A round asked again with the same global model (after the node or the server crashed
between the commit and the reply) is answered with the update already committed:
re-sending a DP output is post-processing and costs nothing. Asked with another
model, the round is trained, charged and recorded again.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import secrets
from dataclasses import dataclass

import numpy as np
import torch
from flwr.app import ArrayRecord, ConfigRecord, MetricRecord, RecordDict

from fedscore.clients.admission import Admission, RunDeclined, admit
from fedscore.clients.local_data import PartyData, PartyDataLoader, load_party_data
from fedscore.clients.node import NodeConfig
from fedscore.clients.training import LocalSchedule, train_locally
from fedscore.core import protocol
from fedscore.core.errors import FedscoreError
from fedscore.core.metrics import score_metrics
from fedscore.core.models import ModelSpec, build_model, predict_proba
from fedscore.core.run_request import RUN_REQUEST_KEY, check_safe_name
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import load_schema
from fedscore.core.signing import SigningKey
from fedscore.privacy.accounting import (
    AccountantKey,
    AccountantStore,
    PartyAccountant,
    ReleasedUpdate,
    RoundRecord,
)
from fedscore.privacy.dp_sgd import DpSgd, LocalPrivacy, MechanismParams, NoPrivacy
from fedscore.privacy.ledger import LedgerEntry

# Slack for float rounding when a run is calibrated to exactly the node's budget.
BUDGET_TOLERANCE = 1e-9


@dataclass(frozen=True)
class RoundRequest:
    """The server's instructions for one round, as the node reads them."""

    run: RunConfig
    run_id: str
    server_round: int
    schema_sha256: str

    @classmethod
    def from_config(cls, config: ConfigRecord) -> RoundRequest:
        """The round's instructions.

        Raises:
            ConfigError: a run id that could not name a folder, or invalid run settings.
        """
        flat = dict(config)
        flat.pop(RUN_REQUEST_KEY, None)
        return cls(
            run_id=check_safe_name(str(flat.pop(protocol.RUN_ID)), "run id"),
            server_round=int(flat.pop(protocol.SERVER_ROUND)),
            schema_sha256=str(flat.pop(protocol.SCHEMA_SHA256)),
            run=RunConfig.from_flower({k: v for k, v in flat.items() if k != protocol.TASK}),
        )


class NodeRefusal(FedscoreError):
    """The node declines the round; the reason goes to the server and the run's results."""


def _not_trained(node: NodeConfig, status: str, reason: str) -> RecordDict:
    """The reply of a node that spent nothing: no data was read, nothing was recorded."""
    return RecordDict(
        {
            protocol.METRICS: _epsilon_metrics(math.nan, math.nan, 0, node.max_epsilon),
            protocol.PARTY: _party_record(node, status, reason),
        }
    )


def _status_of(problem: FedscoreError) -> str:
    """The outcome a node reports for a round it did not train."""
    if isinstance(problem, RunDeclined):
        return protocol.DECLINED
    return protocol.REFUSED if isinstance(problem, NodeRefusal) else protocol.FAILED


def _party_record(
    node: NodeConfig,
    status: str,
    reason: str = "",
    note: str = "",
    data: PartyData | None = None,
    ledger_entry: LedgerEntry | None = None,
) -> ConfigRecord:
    record = ConfigRecord(
        {
            protocol.PARTY_NAME: node.party,
            protocol.STATUS: status,
            protocol.REASON: reason,
            protocol.NOTE: note,
        }
    )
    if data is not None:
        # Counts, rates, versions and a hash only: the report holds no value of the table.
        record[protocol.DEIDENTIFICATION] = json.dumps(data.report.summary(), ensure_ascii=False)
    if ledger_entry is not None:
        # The signed ledger entry of this round: aggregates and hashes only.
        record[protocol.LEDGER_HEAD] = json.dumps(ledger_entry.signed_head(), ensure_ascii=False)
    return record


def _model_from(arrays: ArrayRecord, run: RunConfig, n_features: int) -> torch.nn.Module:
    model = build_model(ModelSpec(run.model, n_features, run.hidden, run.seed))
    model.load_state_dict(arrays.to_torch_state_dict())
    return model


def _mechanism(
    store: AccountantStore,
    key: AccountantKey,
    request: RoundRequest,
    schedule: LocalSchedule,
    n_records: int,
) -> MechanismParams:
    """The run's noise, calibrated at its first round and then fixed for all rounds."""
    run = request.run
    if run.delta >= 1.0 / n_records:
        raise NodeRefusal(
            f"delta {run.delta:g} is not below 1/N = {1.0 / n_records:.3g} for this node's "
            f"{n_records} training rows; lower the run's delta"
        )
    plan = store.plan(key, request.run_id)
    if plan is None:
        plan = {
            "noise_multiplier": schedule.calibrated_mechanism(run).noise_multiplier,
            "sample_rate": schedule.sample_rate,
            "expected_batch_size": schedule.expected_batch_size,
        }
        store.save_plan(key, request.run_id, plan)
    return MechanismParams(
        noise_multiplier=float(plan["noise_multiplier"]),
        sample_rate=float(plan["sample_rate"]),
        max_grad_norm=run.max_grad_norm,
        expected_batch_size=int(plan["expected_batch_size"]),
    )


def _earlier_spend(
    store: AccountantStore, key: AccountantKey, node: NodeConfig, run: RunConfig
) -> float:
    """Epsilon the party's other data versions already drew from the same budget.

    Summed (basic composition): valid however much the versions' customers overlap.
    """
    epoch = store.epoch_of(key, node.budget_epoch)
    return sum(a.epsilon(run.delta, run.accountant) for a in store.earlier_versions(key, epoch))


def _check_budget(
    node: NodeConfig,
    accountant: PartyAccountant,
    mechanism: MechanismParams,
    schedule: LocalSchedule,
    run: RunConfig,
    earlier: float,
) -> None:
    projected = earlier + accountant.projected(
        mechanism.noise_multiplier, mechanism.sample_rate, schedule.steps_per_round
    ).epsilon(run.delta, run.accountant)
    if projected > node.max_epsilon + BUDGET_TOLERANCE:
        spent = earlier + accountant.epsilon(run.delta, run.accountant)
        previous = f" (of which {earlier:.4f} on earlier data versions)" if earlier else ""
        raise NodeRefusal(
            f"privacy budget: this round would raise epsilon ({run.accountant.upper()}) from "
            f"{spent:.4f}{previous} to {projected:.4f}, beyond this node's max_epsilon "
            f"{node.max_epsilon:g}"
        )


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
    except FedscoreError as problem:
        return _not_trained(node, protocol.FAILED, str(problem))
    run = request.run
    store = AccountantStore(
        node.accountant_db,
        signer=SigningKey.load_or_create(node.ledger_key),
        ledger_hash=node.ledger_hash,
    )
    key: AccountantKey | None = None
    data: PartyData | None = None
    admission = Admission(run)
    try:
        schema = load_schema(node.task_path)
        admission = admit(node, schema, config, run, app_sha256)
        run = admission.run
        data = load_data(node, schema)
        data.report.write(node.report_path(request.run_id))
        key = AccountantKey(node.party, schema.name, data.data_version)
        request_sha256 = global_model_sha256(arrays)
        earlier = store.released(key, request.run_id, request.server_round)
        if earlier is not None and earlier[0].request_sha256 == request_sha256:
            return _replayed_reply(node, data, *earlier)
        accountant = store.load(key)
        schedule = LocalSchedule.for_party(run, len(data.train_y))
        privacy: LocalPrivacy
        if run.private:
            mechanism = _mechanism(store, key, request, schedule, len(data.train_y))
            _check_budget(
                node, accountant, mechanism, schedule, run, _earlier_spend(store, key, node, run)
            )
            privacy = DpSgd(mechanism, accountant)
        else:
            mechanism = None
            privacy = NoPrivacy(accountant)
    except FedscoreError as problem:
        status = _status_of(problem)
        entry = None
        if key is not None and data is not None:
            spent = store.load(key).report(run.delta)
            entry = store.commit_round(
                key,
                store.load(key),
                RoundRecord(
                    request.run_id,
                    request.server_round,
                    protocol.REFUSED,
                    str(problem),
                    None,
                    None,
                    None,
                    run.max_grad_norm,
                    run.delta,
                    None,
                    None,
                    node.max_epsilon,
                ),
                _ledger_details(node, run, data, spent.by(run.accountant), store, key, admission),
            )
            metrics = _epsilon_metrics(spent.rdp, spent.prv, 0, node.max_epsilon)
        else:
            return _not_trained(node, status, str(problem))
        return RecordDict(
            {
                protocol.METRICS: metrics,
                protocol.PARTY: _party_record(
                    node, status, str(problem), data=data, ledger_entry=entry
                ),
            }
        )

    model = _model_from(arrays, run, data.train_x.shape[1])
    sampling = torch.Generator().manual_seed(secrets.randbits(62))
    trained, result = train_locally(
        model, data.train_x, data.train_y, run, schedule, privacy, sampling
    )
    report = accountant.report(run.delta)
    metrics = _epsilon_metrics(report.rdp, report.prv, len(data.train_y), node.max_epsilon)
    metrics["noise-multiplier"] = mechanism.noise_multiplier if mechanism else 0.0
    metrics["sample-rate"] = schedule.sample_rate
    metrics["steps"] = result.steps
    metrics["train-loss"] = result.mean_loss
    update = ArrayRecord(trained.state_dict())
    entry = store.commit_round(
        key,
        accountant,
        RoundRecord(
            request.run_id,
            request.server_round,
            protocol.TRAINED,
            "",
            mechanism.noise_multiplier if mechanism else 0.0,
            schedule.sample_rate,
            result.steps,
            run.max_grad_norm if mechanism else None,
            run.delta,
            report.rdp,
            report.prv,
            node.max_epsilon,
        ),
        _ledger_details(node, run, data, report.by(run.accountant), store, key, admission),
        budget_epoch=store.epoch_of(key, node.budget_epoch),
        released=ReleasedUpdate(
            request_sha256, _arrays_to_npz(update), json.dumps(dict(metrics.items()))
        ),
    )
    return RecordDict(
        {
            protocol.ARRAYS: update,
            protocol.METRICS: metrics,
            protocol.PARTY: _party_record(
                node, protocol.TRAINED, note=report.note, data=data, ledger_entry=entry
            ),
        }
    )


def global_model_sha256(arrays: ArrayRecord) -> str:
    """Fingerprint of the global model a round starts from (names, shapes, values)."""
    digest = hashlib.sha256()
    for name, array in arrays.items():
        values = array.numpy()
        digest.update(f"{name}:{values.dtype}:{values.shape};".encode())
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


def _arrays_to_npz(arrays: ArrayRecord) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{name: array.numpy() for name, array in arrays.items()})
    return buffer.getvalue()


def _replayed_reply(
    node: NodeConfig, data: PartyData, update: ReleasedUpdate, entry: LedgerEntry | None
) -> RecordDict:
    """The reply a node already committed for this round, sent again at no privacy cost."""
    with np.load(io.BytesIO(update.arrays)) as stored:
        arrays = ArrayRecord({name: torch.from_numpy(stored[name]) for name in stored.files})
    return RecordDict(
        {
            protocol.ARRAYS: arrays,
            protocol.METRICS: MetricRecord(json.loads(update.metrics)),
            protocol.PARTY: _party_record(
                node,
                protocol.TRAINED,
                note="update re-sent as committed earlier (no new privacy cost)",
                data=data,
                ledger_entry=entry,
            ),
        }
    )


def _ledger_details(
    node: NodeConfig,
    run: RunConfig,
    data: PartyData,
    spent: float,
    store: AccountantStore,
    key: AccountantKey,
    admission: Admission,
) -> dict[str, object]:
    """What the ledger entry records besides the round itself."""
    earlier = _earlier_spend(store, key, node, run)
    return {
        **admission.ledger_details(),
        "sampler": "poisson",
        "private": run.private,
        "accountant": run.accountant,
        "epsilon_spent": spent,
        "budget_epoch": store.epoch_of(key, node.budget_epoch),
        "epsilon_earlier_data_versions": earlier,
        "budget_remaining": node.max_epsilon - spent - earlier,
        "deidentification_report_sha256": data.report.sha256(),
        "consent": data.report.consent,
    }


def _epsilon_metrics(
    rdp: float, prv: float | None, examples: int, max_epsilon: float
) -> MetricRecord:
    return MetricRecord(
        {
            protocol.NUM_EXAMPLES: examples,
            "max-epsilon": float(max_epsilon),
            "epsilon-rdp": float(rdp),
            "epsilon-prv": math.nan if prv is None else float(prv),
        }
    )


def evaluate_round(
    node: NodeConfig,
    arrays: ArrayRecord,
    config: ConfigRecord,
    load_data: PartyDataLoader = load_party_data,
    app_sha256: str | None = None,
) -> RecordDict:
    """Score the global model on this node's validation rows; only the metrics leave.

    The run must be one the node accepts (as for training): evaluation answers with
    figures computed from the node's customers.
    """
    try:
        request = RoundRequest.from_config(config)
        schema = load_schema(node.task_path)
        run = admit(node, schema, config, request.run, app_sha256).run
        data = load_data(node, schema)
    except FedscoreError as problem:
        status = _status_of(problem)
        return RecordDict(
            {
                protocol.METRICS: MetricRecord({protocol.NUM_EXAMPLES: 0}),
                protocol.PARTY: _party_record(node, status, str(problem)),
            }
        )
    model = _model_from(arrays, run, data.valid_x.shape[1])
    metrics = score_metrics(data.valid_y, predict_proba(model, data.valid_x))
    return RecordDict(
        {
            protocol.METRICS: MetricRecord(
                {
                    protocol.NUM_EXAMPLES: metrics.n,
                    "auc": metrics.auc,
                    "ks": metrics.ks,
                    "brier": metrics.brier,
                    "log-loss": metrics.log_loss,
                }
            ),
            protocol.PARTY: _party_record(node, protocol.EVALUATED),
        }
    )
