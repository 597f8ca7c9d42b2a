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

import json

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.app.message_type import MessageType
from flwr.client.mod import secaggplus_mod
from flwr.clientapp.typing import ClientAppCallable
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS
from flwr.compat.common import recorddict_compat as compat

from fedscore.core import protocol
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
        msg.content = RecordDict({protocol.ARRAYS: global_arrays, protocol.CONFIG: config})
        reply = train(msg, context)
        run = RunConfig.from_flower(dict(config.items()))
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
    names = json.loads(str(config.pop(protocol.ARRAY_NAMES)))
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
    party = content.config_records[protocol.PARTY]
    if party[protocol.STATUS] != protocol.TRAINED:
        return content
    reference = {name: array.numpy() for name, array in global_arrays.items()}
    verdict = check_update(content, reference, run.max_update_norm)
    problem = verdict.problem or _quantization_problem(content, run)
    metrics = content.metric_records[protocol.METRICS]
    metrics[protocol.UPDATE_NORM] = verdict.norm
    if problem:
        party[protocol.STATUS] = protocol.REJECTED
        party[protocol.REASON] = f"{problem} (checked at the node: secure aggregation is on)"
        del content.array_records[protocol.ARRAYS]
    return content


def _quantization_problem(content: RecordDict, run: RunConfig) -> str:
    """Why SecAgg+ would clip this update's weighted values ("" if it would not)."""
    weight = float(content.metric_records[protocol.METRICS][protocol.NUM_EXAMPLES])
    ratio = weight / run.secagg_max_weight
    largest = max(
        float(np.max(np.abs(array.numpy()), initial=0.0))
        for array in content.array_records[protocol.ARRAYS].values()
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
    update = content.array_records.get(protocol.ARRAYS)
    status = content.config_records[protocol.PARTY][protocol.STATUS]
    trained = update is not None and status == protocol.TRAINED
    if trained:
        values = [update[name].numpy() for name in global_arrays]
        weight = int(content.metric_records[protocol.METRICS][protocol.NUM_EXAMPLES])
    else:
        values = [np.zeros_like(array.numpy()) for array in global_arrays.values()]
        weight = 0
    legacy = compat.fitres_to_recorddict(
        FitRes(Status(Code.OK, ""), ndarrays_to_parameters(values), weight, {}),
        keep_input=True,
    )
    legacy.config_records[protocol.PARTY] = content.config_records[protocol.PARTY]
    legacy.metric_records[protocol.METRICS] = MetricRecord(
        dict(content.metric_records[protocol.METRICS].items())
    )
    return legacy
