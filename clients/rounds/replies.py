"""Encoding a node's reply: its outcome, its privacy figures, what backs them (aggregates only)."""

from __future__ import annotations

import dataclasses
import math

from fedscore.clients.admission import RunDeclined
from fedscore.clients.journal import ConcurrentCharge
from fedscore.clients.local_data import PartyData
from fedscore.clients.node import NodeConfig
from fedscore.core.errors import FedscoreError
from fedscore.core.protocol import (
    DeidentificationSummary,
    LedgerHead,
    PartyReport,
    Status,
    TrainMetrics,
    TrainReply,
)
from fedscore.privacy.accounting import EpsilonReport
from fedscore.privacy.ledger import LedgerEntry


class NodeRefusal(FedscoreError):
    """The node declines the round; the reason goes to the server and the run's results."""


def status_of(problem: FedscoreError) -> Status:
    """The outcome a node reports for a round it did not train."""
    if isinstance(problem, RunDeclined):
        return Status.DECLINED
    if isinstance(problem, NodeRefusal | ConcurrentCharge):
        return Status.REFUSED
    return Status.FAILED


def backed_by(report: PartyReport, data: PartyData, entry: LedgerEntry | None) -> PartyReport:
    """`report` with what backs it: the de-identification summary and the signed ledger entry.

    The de-identification summary holds counts, rates, versions and a hash only; the round's signed
    ledger entry, aggregates and hashes only.
    """
    head = None if entry is None else LedgerHead.from_dict(entry.signed_head())
    return dataclasses.replace(
        report,
        deidentification=DeidentificationSummary(data.report.summary()),
        ledger_head=head,
    )


def spent_metrics(node: NodeConfig, spent: EpsilonReport | None) -> TrainMetrics:
    """The figures of a round that trained nothing: the epsilon as it stands.

    The epsilon is NaN when no data was read.
    """
    if spent is None:
        return TrainMetrics(num_examples=0, max_epsilon=node.max_epsilon)
    prv = math.nan if spent.prv is None else spent.prv
    return TrainMetrics(
        0, node.max_epsilon, epsilon_rdp=spent.rdp, epsilon_prv=prv, delta=spent.delta
    )


def not_trained(node: NodeConfig, status: Status, reason: str) -> TrainReply:
    """The reply of a node that spent nothing: no data was read, nothing was recorded."""
    return TrainReply(PartyReport(node.party, status, reason), spent_metrics(node, None))
