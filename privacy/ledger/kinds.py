"""What a node's ledger entry records, by its `kind`.

A round's entry has no `kind` (the ledger's first entries were all rounds); every other
entry names its kind, so that a reader never takes it for a round.
"""

#: A pure ε-DP release outside DP-SGD (`NodeJournal.charge_pure_release`).
PURE_RELEASE_KIND = "pure_release"


def is_round(content: dict[str, object]) -> bool:
    """Whether a ledger entry's content records a round."""
    return "kind" not in content
