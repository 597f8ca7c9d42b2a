"""The facilitator's ledger record of the partial scores it serves (`vertical.serving`).

A served contribution is one number per customer, without DP, that the bank combines with
its own half of the model: a disclosure the facilitator's compliance team must see.
Two entries per serving session: one before the service answers anything (whom it
serves and for at most how many customers, so that even a session that ends in a crash
is on file) and one when it stops (the calls and distinct customers it answered).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from fedscore.privacy.ledger import LedgerEntry
from fedscore.vertical.journal import VerticalJournal


class ServedCounts(Protocol):
    """What a partial-score service knows of its session."""

    run_id: str
    bank: str
    model_version: str
    calls: int
    served: set[bytes]

    @property
    def size(self) -> int: ...


class ServingRecord:
    """The ledger entries of one serving session.

    Args:
        journal: the facilitator's vertical journal.
        service: the session's service (its run, bank, model version and counts).
    """

    def __init__(self, journal: VerticalJournal, service: ServedCounts) -> None:
        self.journal = journal
        self.service = service
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")

    def opened(self) -> LedgerEntry:
        """Record the session before its first reply: to whom, for at most how many."""
        return self.journal.record_serving(
            self.service.run_id,
            phase="opened",
            session_started_at=self.started_at,
            served_to=self.service.bank,
            model_version=self.service.model_version,
            values="the facilitator's contribution f_fac(x) to the joint logit, without DP",
            customers_at_most=self.service.size,
        )

    def closed(self) -> LedgerEntry:
        """Record what the session answered: calls and distinct customers."""
        return self.journal.record_serving(
            self.service.run_id,
            phase="closed",
            session_started_at=self.started_at,
            served_to=self.service.bank,
            model_version=self.service.model_version,
            calls=self.service.calls,
            customers_served=len(self.service.served),
        )
