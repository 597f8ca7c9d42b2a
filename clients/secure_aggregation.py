"""Secure aggregation at a node: Flower's SecAgg+ protocol around fedscore's training round.

With secure aggregation on, a round's training request reaches the node four times
(SecAgg+ stages: setup, share keys, collect masked vectors, unmask). Flower's
`secaggplus_mod` runs the protocol; only in the third stage does it call the node's
training handler, and it then sends the server the update masked with pairwise and
private masks that cancel only in the sum of all parties' updates.

SecAgg+ speaks Flower's legacy message format (FitIns / FitRes). This module
translates between it and fedscore's records, and does the checks the server can no
longer do on an update it never sees: the same checks as server-side screening
(`core/update_checks.py`: NaN/Inf, names and shapes, `max_update_norm`) plus the
quantization range of SecAgg+. A failed check turns the party's reply into
"rejected" with weight 0: its masked vector is then all zeros, so it adds nothing to
the sum, and the node still reports its outcome and privacy spend like any other.
Refused and failed rounds are sent the same way (weight 0), so the protocol never
loses a party that answered.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from flwr.app import (
    Array,
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MessageType,
    RecordDict,
)

from fedscore.core import protocol
from fedscore.core.flower_compat.clientapp import ClientAppCallable
from fedscore.core.flower_compat.secure_aggregation import (
    RECORD_KEY_CONFIGS,
    Code,
    FitRes,
    Status,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
    secaggplus_mod,
)
from fedscore.core.flower_compat.secure_aggregation import recorddict_compat as compat
from fedscore.core.runconfig import RunConfig
from fedscore.core.update_checks import REJECTED_PREFIX, check_update

LEGACY_PARAMETERS = "fitins.parameters"
LEGACY_CONFIG = "fitins.config"


def secure_aggregation_mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Run SecAgg+ for a training request that carries its stage; pass anything else on."""
    if (
        msg.metadata.message_type != MessageType.TRAIN
        or RECORD_KEY_CONFIGS not in msg.content.config_records
    ):
        return call_next(msg, context)
    return secaggplus_mod(msg, context, _masked_training(call_next))


def _masked_training(train: ClientAppCallable) -> ClientAppCallable:
    """The node's training handler as SecAgg+ calls it: legacy FitIns in, FitRes out."""

    def handle(msg: Message, context: Context) -> Message:
        global_arrays, config = _round_request(msg.content)
        msg.content = protocol.TrainRequest.content(global_arrays, config)
        reply = train(msg, context)
        run = protocol.RoundRequest.from_record(config).run
        content = _checked_for_masking(reply.content, global_arrays, run)
        return Message(content=_as_fitres(content, global_arrays), reply_to=msg)

    return handle


def _round_request(content: RecordDict) -> tuple[ArrayRecord, ConfigRecord]:
    """The global model (with its array names) and the round's config of a legacy FitIns."""
    fitins = compat.recorddict_to_fitins(
        RecordDict(
            {
                LEGACY_PARAMETERS: content.array_records[LEGACY_PARAMETERS],
                LEGACY_CONFIG: content.config_records[LEGACY_CONFIG],
            }
        ),
        keep_input=True,
    )
    config = ConfigRecord(dict(fitins.config))
    names = protocol.RoundRequest.from_record(config).array_names
    values = parameters_to_ndarrays(fitins.parameters)
    if len(names) != len(values):
        raise ValueError(
            f"secure aggregation request names {len(names)} arrays but carries {len(values)}"
        )
    return ArrayRecord({n: Array(v) for n, v in zip(names, values, strict=True)}), config


def _checked_for_masking(
    content: RecordDict, global_arrays: ArrayRecord, run: RunConfig
) -> RecordDict:
    """The reply, turned into "rejected" if its update must not enter the secure sum."""
    reply = protocol.TrainReply.from_record(content)
    if reply.party.status != protocol.Status.TRAINED:
        return content
    reference = {name: array.numpy() for name, array in global_arrays.items()}
    verdict = check_update(content, reference, run.max_update_norm)
    problem = verdict.problem or _quantization_problem(reply, run)
    if problem:
        reason = f"{problem} (checked at the node: secure aggregation is on)"
        return reply.rejected(reason, verdict.norm).to_record()
    metrics = dataclasses.replace(reply.metrics, update_norm=verdict.norm)
    return dataclasses.replace(reply, metrics=metrics).to_record()


def _quantization_problem(reply: protocol.TrainReply, run: RunConfig) -> str:
    """Why SecAgg+ would clip this update's weighted values ("" if it would not)."""
    assert reply.update is not None  # (checked: the update passed `check_update`)
    ratio = float(reply.metrics.num_examples) / run.secagg_max_weight
    largest = max(
        float(np.max(np.abs(array.numpy()), initial=0.0)) for array in reply.update.values()
    )
    if largest * ratio <= run.secagg_clipping_range:
        return ""
    return (
        f"{REJECTED_PREFIX}a weighted value {largest * ratio:.4g} (rows / secagg_max_weight × "
        f"|parameter|) lies beyond secagg_clipping_range {run.secagg_clipping_range}; raise "
        f"secagg_clipping_range or lower secagg_max_weight"
    )


def _as_fitres(content: RecordDict, global_arrays: ArrayRecord) -> RecordDict:
    """Legacy FitRes of the reply (what SecAgg+ masks) plus fedscore's outcome records.

    A party without an update contributes zeros with weight 0.
    """
    reply = protocol.TrainReply.from_record(content)
    update = reply.update
    if update is not None and reply.party.status == protocol.Status.TRAINED:
        values = [update[name].numpy() for name in global_arrays]
        weight = int(reply.metrics.num_examples)
    else:
        values = [np.zeros_like(array.numpy()) for array in global_arrays.values()]
        weight = 0
    legacy = compat.fitres_to_recorddict(
        FitRes(Status(Code.OK, ""), ndarrays_to_parameters(values), weight, {}),
        keep_input=True,
    )
    outcome = dataclasses.replace(reply, update=None).to_record()
    for name, config in outcome.config_records.items():
        legacy.config_records[name] = config
    for name, metrics in outcome.metric_records.items():
        legacy.metric_records[name] = metrics
    return legacy
