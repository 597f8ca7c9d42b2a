"""What a node sends back for a round: its outcome, its privacy figures, aggregates only."""

from __future__ import annotations

import json
import math

from flwr.app import ConfigRecord, MetricRecord, RecordDict

from fedscore.clients.admission import RunDeclined
from fedscore.clients.journal import ConcurrentCharge
from fedscore.clients.local_data import PartyData
from fedscore.clients.node import NodeConfig
from fedscore.core import protocol
from fedscore.core.errors import FedscoreError
from fedscore.privacy.ledger import LedgerEntry


class NodeRefusal(FedscoreError):
    """The node declines the round; the reason goes to the server and the run's results."""


def status_of(problem: FedscoreError) -> str:
    """The outcome a node reports for a round it did not train."""
    if isinstance(problem, RunDeclined):
        return protocol.DECLINED
    if isinstance(problem, NodeRefusal | ConcurrentCharge):
        return protocol.REFUSED
    return protocol.FAILED


def party_record(
    node: NodeConfig,
    status: str,
    reason: str = "",
    note: str = "",
    data: PartyData | None = None,
    ledger_entry: LedgerEntry | None = None,
) -> ConfigRecord:
    """Who answers, how the round went, and (aggregates only) what backs it."""
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


def epsilon_metrics(
    rdp: float, prv: float | None, examples: int, max_epsilon: float
) -> MetricRecord:
    """The party's cumulative epsilon on its data version, by both accountants."""
    return MetricRecord(
        {
            protocol.NUM_EXAMPLES: examples,
            "max-epsilon": float(max_epsilon),
            "epsilon-rdp": float(rdp),
            "epsilon-prv": math.nan if prv is None else float(prv),
        }
    )


def not_trained(node: NodeConfig, status: str, reason: str) -> RecordDict:
    """The reply of a node that spent nothing: no data was read, nothing was recorded."""
    return RecordDict(
        {
            protocol.METRICS: epsilon_metrics(math.nan, math.nan, 0, node.max_epsilon),
            protocol.PARTY: party_record(node, status, reason),
        }
    )
