"""Worst-case privacy of a customer held by several institutions (basic composition)."""

from __future__ import annotations

import itertools
import math
from typing import Any

#: Above this many parties, the shared-customer table lists pairs and all parties only.
MAX_PARTIES_FOR_EVERY_COMBINATION = 6


def shared_customer_bounds(parties: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Worst-case epsilon and delta of a customer held by several institutions.

    Every combination of two or more parties (pairs and all parties only, beyond
    `MAX_PARTIES_FOR_EVERY_COMBINATION`), with the sum of their lifetime figures.

    Args:
        parties: each party's view (see `report.party_view`), with its lifetime
            epsilon and delta.

    Returns:
        The basis of the bound, every combination with its sums, and the worst one.
    """
    names = sorted(parties)
    sizes = (
        range(2, len(names) + 1)
        if len(names) <= MAX_PARTIES_FOR_EVERY_COMBINATION
        else sorted({2, len(names)})
    )
    combinations = [
        {
            "parties": list(group),
            "epsilon": sum(ledger_number(parties[p]["lifetime_epsilon"]) for p in group),
            "delta": sum(ledger_number(parties[p]["lifetime_delta"]) for p in group),
        }
        for size in sizes
        for group in itertools.combinations(names, size)
    ]
    worst = max(combinations, key=lambda c: c["epsilon"], default=None)
    return {
        "basis": "basic composition: a customer's data at each institution is protected "
        "by that institution's spend; the epsilons and deltas add",
        "combinations": combinations,
        "worst_case": worst,
    }


def ledger_number(value: Any) -> float:
    """A ledger figure as a float: "inf" is infinity, None (not recorded) is NaN."""
    if value == "inf":
        return math.inf
    return float(value) if value is not None else math.nan
