"""Screening of the parties' updates before aggregation: broken updates never reach the model.

A node in a real deployment can send a broken update (a diverged local run, a bug, a
corrupted or hostile reply). Before the strategy aggregates, the server drops every
update that

- does not carry exactly one ArrayRecord (under `protocol.ARRAYS`), or whose arrays
  differ from the global model's in names or shapes, or cannot be read as numbers;
- contains NaN or Inf;
- does not report a positive, finite number of training rows (the weight FedAvg uses);
- lies farther from the global model than `RunConfig.max_update_norm`: the L2 norm of
  (update − global model), over all arrays together (checked only when the bound is set).

Each dropped party's outcome becomes "rejected" with the reason, so the round is
counted like a refused one for that party in `metrics.json`, `privacy.json` and
`summary.json`. The party still trained and spent the round's privacy: its epsilon
stays in the record. Every screened outcome records the update's norm
(`PartyOutcome.update_norm`), which shows what a sensible bound would be.

The norm bound is a server-side sanity check, not the DP guarantee: that is each
node's per-sample clipping and noise (DP-SGD), whatever the server does. A DP update's
distance from the global model grows with the noise, the learning rate and the number
of local steps, so there is no default bound (None); set one from the norms of earlier
runs. Screening needs each update in the clear, like the robust strategies: with secure
aggregation it would have to move into the protocol.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from flwr.app import ArrayRecord, Message

from fedscore.core import protocol
from fedscore.core.runconfig import RunConfig
from fedscore.server.history import PartyOutcome, RoundHistory

_PREFIX = "update rejected: "


@dataclasses.dataclass(frozen=True)
class Screening:
    """The verdict on one update.

    Attributes:
        problem: why the update is rejected ("" when it is kept).
        norm: L2 norm of (update − global model) over all arrays; NaN where it could
            not be computed (unreadable arrays, NaN/Inf, other names or shapes).
    """

    problem: str = ""
    norm: float = math.nan

    @property
    def kept(self) -> bool:
        """Whether the update goes on to aggregation."""
        return not self.problem


def screen_updates(
    accepted: list[Message],
    global_arrays: ArrayRecord,
    run: RunConfig,
    record: RoundHistory,
) -> list[Message]:
    """The replies whose update may be aggregated; the others are recorded as rejected.

    Args:
        accepted: the round's replies that carry an update (status "trained"), as
            `collect_training` returned them.
        global_arrays: the global model the round's updates started from.
        run: the run configuration (its `max_update_norm`, None for no norm check).
        record: the round's history: each screened party's outcome gets the update's
            norm, and a rejected party's becomes status "rejected" with the reason.

    Returns:
        The replies that passed, in their original order (the messages are unchanged).
    """
    reference = {name: array.numpy() for name, array in global_arrays.items()}
    kept: list[Message] = []
    for reply in accepted:
        verdict = screen_update(reply, reference, run.max_update_norm)
        party = _party(reply)
        outcome = record.outcomes.get(party) or PartyOutcome(party, protocol.TRAINED)
        if verdict.kept:
            record.outcomes[party] = dataclasses.replace(outcome, update_norm=verdict.norm)
            kept.append(reply)
        else:
            record.outcomes[party] = dataclasses.replace(
                outcome,
                status=protocol.REJECTED,
                reason=verdict.problem,
                update_norm=verdict.norm,
            )
    return kept


def screen_update(
    reply: Message, reference: dict[str, np.ndarray], max_norm: float | None
) -> Screening:
    """Check one reply's update against the global model.

    Args:
        reply: a party's training reply.
        reference: the global model's arrays by name.
        max_norm: the bound on the L2 norm of (update − global model); None: no bound.

    Returns:
        The verdict, with the norm wherever it could be computed.
    """
    content = reply.content
    array_records = list(content.array_records.keys())
    if array_records != [protocol.ARRAYS]:
        return Screening(
            f"{_PREFIX}expected one ArrayRecord '{protocol.ARRAYS}', got {array_records}"
        )
    weight_problem = _weight_problem(reply)
    if weight_problem:
        return Screening(_PREFIX + weight_problem)
    update = content.array_records[protocol.ARRAYS]
    missing = sorted(set(reference) - set(update.keys()))
    unexpected = sorted(set(update.keys()) - set(reference))
    if missing or unexpected:
        return Screening(
            f"{_PREFIX}arrays differ from the global model's "
            f"(missing {missing}, unexpected {unexpected})"
        )
    squares = 0.0
    for name, expected in reference.items():
        try:
            values = update[name].numpy()
        except Exception as exc:  # a malformed Array: anything its decoding raises
            return Screening(f"{_PREFIX}array '{name}' cannot be read ({type(exc).__name__})")
        if values.shape != expected.shape:
            return Screening(
                f"{_PREFIX}'{name}' has shape {values.shape}, "
                f"the global model's is {expected.shape}"
            )
        if not (np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_):
            return Screening(f"{_PREFIX}'{name}' is not numeric (dtype {values.dtype})")
        if not np.isfinite(values).all():
            return Screening(f"{_PREFIX}NaN/Inf in '{name}'")
        with np.errstate(over="ignore", invalid="ignore"):
            difference = values.astype(np.float64) - expected.astype(np.float64)
            squares += float(np.sum(np.square(difference)))
    norm = math.sqrt(squares)
    if max_norm is not None and not norm <= max_norm:
        return Screening(f"{_PREFIX}norm {norm:.4g} exceeds max_update_norm {max_norm}", norm=norm)
    return Screening(norm=norm)


def _weight_problem(reply: Message) -> str:
    """Why the reply's number of training rows cannot weigh its update ("" if it can)."""
    metrics = reply.content.metric_records.get(protocol.METRICS)
    value = None if metrics is None else metrics.get(protocol.NUM_EXAMPLES)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"no '{protocol.NUM_EXAMPLES}' figure"
    if not (math.isfinite(value) and value > 0):
        return f"'{protocol.NUM_EXAMPLES}' is {value}, not a positive number"
    return ""


def _party(reply: Message) -> str:
    """The institution a reply names (the key of its outcome in the round's record)."""
    party = reply.content.config_records.get(protocol.PARTY)
    if party is not None and protocol.PARTY_NAME in party:
        return str(party[protocol.PARTY_NAME])
    return f"node-{reply.metadata.src_node_id}"
