"""The node's journal: accountants, rounds, run plans, released updates, pure releases, ledger.

- `records`: what it keeps (whose budget, what a round cost, what was released);
- `tables`: its SQLite tables, and the migration of an older file;
- `statements`: SQL that names its columns, bound by name;
- `connection`: how it opens its file, its write transactions, the SQL hook's type;
- `pure_releases`: pure ε-DP releases outside DP-SGD (a drafted schema's bounds), charged
  to the party's budget epoch beside its training;
- `node_journal`: `NodeJournal`, the journal itself.
"""

from fedscore.clients.journal.connection import StatementHook
from fedscore.clients.journal.node_journal import ConcurrentCharge, NodeJournal
from fedscore.clients.journal.records import AccountantKey, ReleasedUpdate, RoundRecord

__all__ = [
    "AccountantKey",
    "ConcurrentCharge",
    "NodeJournal",
    "ReleasedUpdate",
    "RoundRecord",
    "StatementHook",
]
