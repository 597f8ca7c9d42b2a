"""k-anonymity over the quasi-identifiers, reached by suppressing small classes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class KAnonymityResult:
    """Outcome of enforcing k-anonymity.

    Attributes:
        kept: rows that remain (in classes of at least `k_min` rows).
        k_before: smallest class size before suppression.
        k_achieved: smallest class size after suppression (0 if nothing is left).
        suppressed: rows removed.
        classes: equivalence classes left.
    """

    kept: np.ndarray
    k_before: int
    k_achieved: int
    suppressed: int
    classes: int

    @property
    def suppression_rate(self) -> float:
        total = len(self.kept)
        return self.suppressed / total if total else 0.0


def enforce_k_anonymity(frame: pd.DataFrame, columns: list[str], k_min: int) -> KAnonymityResult:
    """Suppress every row whose quasi-identifier combination occurs fewer than `k_min` times."""
    if not len(frame):
        return KAnonymityResult(np.zeros(0, dtype=bool), 0, 0, 0, 0)
    if not columns:
        n = len(frame)
        return KAnonymityResult(np.ones(n, dtype=bool), n, n, 0, 1)
    groups = frame.groupby(columns, sort=False, dropna=False)
    sizes = groups[columns[0]].transform("size").to_numpy(dtype=np.int64)
    kept = sizes >= k_min
    remaining = sizes[kept]
    class_ids = groups.ngroup().to_numpy()
    classes = len(np.unique(class_ids[kept]))
    return KAnonymityResult(
        kept=kept,
        k_before=int(sizes.min()),
        k_achieved=int(remaining.min()) if remaining.size else 0,
        suppressed=int((~kept).sum()),
        classes=classes,
    )
