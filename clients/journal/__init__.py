"""The node's journal: its accountants, round records, run plans, released updates and ledger."""

from fedscore.clients.journal.node_journal import (
    AccountantKey,
    ConcurrentCharge,
    NodeJournal,
    ReleasedUpdate,
    RoundRecord,
)

__all__ = [
    "AccountantKey",
    "ConcurrentCharge",
    "NodeJournal",
    "ReleasedUpdate",
    "RoundRecord",
]
