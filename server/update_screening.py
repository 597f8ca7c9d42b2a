"""Screening of the parties' updates before aggregation: broken updates never reach the model.

A node in a real deployment can send a broken update (a diverged local run, a bug, a
corrupted or hostile reply). Before the strategy aggregates, the server drops every
update that

- does not carry exactly one ArrayRecord (`protocol.ARRAYS`), or whose arrays
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
aggregation on, each node runs the same checks (`core/update_checks.py`) on its own update
before masking it, and the server sees only the sum.
"""

from __future__ import annotations

import dataclasses

from flwr.app import ArrayRecord, Message

from fedscore.core.protocol import Status, reported_party
from fedscore.core.runconfig import RunConfig
from fedscore.core.update_checks import check_update
from fedscore.server.history import PartyOutcome, RoundHistory, node_key


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
        verdict = check_update(reply.content, reference, run.max_update_norm)
        party = _party(reply)
        outcome = record.outcomes.get(party) or PartyOutcome(party, Status.TRAINED.value)
        if verdict.kept:
            record.outcomes[party] = dataclasses.replace(outcome, update_norm=verdict.norm)
            kept.append(reply)
        else:
            record.outcomes[party] = dataclasses.replace(
                outcome,
                status=Status.REJECTED.value,
                reason=verdict.problem,
                update_norm=verdict.norm,
            )
    return kept


def _party(reply: Message) -> str:
    """The institution a reply names (the key of its outcome in the round's record)."""
    party = reported_party(reply.content)
    if party is not None:
        return party.name
    return f"node-{node_key(reply.metadata.src_node_id)}"
