"""Charging a node's pure ε-DP releases made outside a round, such as a drafted schema's bounds.

The figures are the node's own output, computed on its party's customers: the release is
charged to that party's budget (its current budget epoch, every task) and signed into its
ledger before anyone sees the figures; a release the budget cannot afford is refused
with nothing recorded.
"""

from __future__ import annotations

from pathlib import Path

from fedscore.clients.journal.records import PureRelease
from fedscore.clients.node import NodeConfig
from fedscore.clients.node_state import claim_state
from fedscore.clients.rounds.transaction import open_journal
from fedscore.core.tabular import file_sha256
from fedscore.privacy.ledger import LedgerEntry


def charge_release(
    node: NodeConfig, mechanism: str, epsilon: float, source: Path, details: dict[str, object]
) -> LedgerEntry:
    """Charge a pure ε-DP release to the node's budget and ledger.

    Args:
        node: the node of the party whose customers the released figures describe.
        mechanism: what is released, and how.
        epsilon: its ε (δ = 0).
        source: the file the figures were computed from (its SHA-256 is recorded).
        details: further facts for the ledger entry (counts and column names, never a
            value of the data).

    Raises:
        ConfigError: the node's state folder belongs to another party.
        PureReleaseRefused: the budget cannot afford it; nothing was recorded.
    """
    claim_state(node.state_dir, node.party)
    release = PureRelease(node.party, node.budget_epoch, mechanism, epsilon, file_sha256(source))
    return open_journal(node).charge_pure_release(release, node.max_epsilon, details)
