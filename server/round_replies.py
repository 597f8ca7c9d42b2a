"""What the parties answered in a round, read through the protocol's typed replies.

Each training reply becomes the party's outcome of the round (trained, refused with its
reason, failed, declined); a reply that is not fedscore's shape counts as failed, and a
party that did not answer at all as failed with "no reply".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from flwr.app import Message

from fedscore.core.errors import printable_reason
from fedscore.core.protocol import EvaluateReply, ProtocolError, Status, TrainReply, error_status
from fedscore.server.history import PartyOutcome, RoundHistory
from fedscore.server.party_names import PartyNames

ReplyT = TypeVar("ReplyT", EvaluateReply, TrainReply)


def outcome_of(reply: Message, party: str) -> PartyOutcome:
    """What a party's training reply says; one that is not fedscore's shape counts as failed."""
    if reply.has_error():
        status = error_status(reply.error.code)
        # Flower's Error.reason is optional: a node's error may come without one.
        reason = printable_reason(reply.error.reason or "")
        return PartyOutcome(party, status.value, reason=reason)
    try:
        answer = TrainReply.from_record(reply.content)
    except ProtocolError as problem:
        return PartyOutcome(party, Status.FAILED.value, reason=f"malformed reply ({problem})")
    report, metrics = answer.party, answer.metrics
    return PartyOutcome(
        party=party,
        status=report.status.value,
        reason=report.reason,
        num_examples=int(metrics.num_examples) if _finite(metrics.num_examples) else 0,
        epsilon_rdp=metrics.epsilon_rdp,
        epsilon_prv=metrics.epsilon_prv,
        delta=_or_nan(metrics.delta),
        noise_multiplier=_or_nan(metrics.noise_multiplier),
        sample_rate=_or_nan(metrics.sample_rate),
        steps=metrics.steps or 0,
        max_epsilon=metrics.max_epsilon,
        note=report.note,
        deidentification=report.deidentification.figures if report.deidentification else {},
        ledger_head=report.ledger_head.as_dict() if report.ledger_head else {},
        update_norm=_or_nan(metrics.update_norm),
    )


def _finite(value: float) -> bool:
    return value - value == 0  # False for NaN and ±Inf


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def collect_training(
    replies: Iterable[Message],
    sent_to: list[int],
    names: PartyNames,
    record: RoundHistory,
    addressed: dict[str, int] | None = None,
) -> list[Message]:
    """Record every party's training outcome; return the replies carrying an update.

    Args:
        replies: what came back.
        sent_to: the node ids the round's messages went to.
        names: which institution each node id is.
        record: the round's record to fill.
        addressed: message id → node id of the messages sent; attributes the errors the
            SuperLink itself answers for a node (e.g. "Node Unavailable") to that node.
    """
    accepted: list[Message] = []
    answered: set[int] = set()
    for reply in replies:
        node_id = reply.metadata.src_node_id
        if node_id not in sent_to:
            node_id = (addressed or {}).get(reply.metadata.reply_to_message_id, node_id)
        answered.add(node_id)
        party = names.name(node_id) if reply.has_error() else names.learn(reply)
        outcome = outcome_of(reply, party)
        record.outcomes[outcome.party] = outcome
        if outcome.status == Status.TRAINED:
            accepted.append(reply)
    for node_id in sent_to:
        if node_id not in answered:
            party = names.name(node_id)
            record.outcomes[party] = PartyOutcome(party, Status.FAILED.value, reason="no reply")
    return accepted


def collect_evaluation(
    replies: Iterable[Message], names: PartyNames, record: RoundHistory
) -> list[Message]:
    """Record every party's federated-evaluation figures; return the evaluated replies."""
    evaluated: list[Message] = []
    for reply in replies:
        party = names.learn(reply)
        answer = _typed(reply, EvaluateReply)
        if answer is None or answer.party.status != Status.EVALUATED:
            continue
        record.federated_eval[party] = answer.evaluation.figures()
        evaluated.append(reply)
    return evaluated


def collect_folded_evaluation(
    replies: Iterable[Message], names: PartyNames, previous: RoundHistory
) -> None:
    """Record the previous round's federated evaluation that training replies carry.

    Each node scores the global model it received, the previous round's result, before
    it trains (`TrainReply.evaluation`); a reply without it (an error, a node that read
    no data) adds nothing.

    Args:
        replies: the round's training replies.
        names: which institution each node id is.
        previous: the record of the round whose model the nodes received.
    """
    for reply in replies:
        answer = _typed(reply, TrainReply)
        if answer is not None and answer.evaluation is not None and answer.evaluation.scores:
            previous.federated_eval[names.learn(reply)] = answer.evaluation.figures()


def _typed(reply: Message, kind: type[ReplyT]) -> ReplyT | None:
    """The typed reply `reply` holds; None for an error or a reply not of fedscore's shape."""
    if reply.has_error():
        return None
    try:
        return kind.from_record(reply.content)
    except ProtocolError:
        return None
