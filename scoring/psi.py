"""Score distributions and the population stability index (PSI).

The development population's scores (here: their log-odds, which order customers the
same way as points, in reverse) are cut into equal-frequency bins at registration
(`ScoreDistribution.from_scores`); a scored population is counted into the same bins,
chunk by chunk (`ScoreHistogram`), and compared:

    PSI = Σ_i (a_i − e_i) · ln(a_i / e_i)

with e_i, a_i the development and scored shares of bin i. An empty bin's share is
floored at 1e-4 so the index stays finite. Rule of thumb: < 0.1 stable, 0.1–0.25 some
shift, > 0.25 a shifted population (warned about).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SHARE_FLOOR = 1e-4


@dataclass(frozen=True)
class ScoreDistribution:
    """Binned shares of a population's scores.

    Attributes:
        edges: the inner bin edges, ascending (bins - 1 of them); bin i holds scores in
            [edges[i-1], edges[i]), the first bin everything below edges[0].
        shares: the share of the population in each bin (sums to 1).
        count: how many scores it was built from.
    """

    edges: tuple[float, ...]
    shares: tuple[float, ...]
    count: int

    @classmethod
    def from_scores(cls, scores: np.ndarray, bins: int) -> ScoreDistribution:
        """Equal-frequency bins of `scores` (ties may make some bins unequal)."""
        scores = np.asarray(scores, dtype=np.float64)
        quantiles = np.quantile(scores, np.linspace(0, 1, bins + 1)[1:-1])
        edges = np.unique(quantiles)
        counts = np.bincount(np.searchsorted(edges, scores, side="right"), minlength=len(edges) + 1)
        return cls(tuple(edges.tolist()), tuple((counts / counts.sum()).tolist()), len(scores))

    def as_dict(self) -> dict[str, object]:
        return {"edges": list(self.edges), "shares": list(self.shares), "count": self.count}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreDistribution:
        return cls(
            tuple(float(e) for e in data["edges"]),
            tuple(float(s) for s in data["shares"]),
            int(data["count"]),
        )


@dataclass
class ScoreHistogram:
    """Counts of scored customers in the bins of a development distribution (streaming).

    Attributes:
        reference: the development distribution whose bins are counted into.
        counts: customers per bin so far.
    """

    reference: ScoreDistribution
    counts: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.counts = np.zeros(len(self.reference.shares), dtype=np.int64)

    def add(self, scores: np.ndarray) -> None:
        """Count one chunk of scores."""
        bins = np.searchsorted(np.asarray(self.reference.edges), scores, side="right")
        self.counts += np.bincount(bins, minlength=len(self.counts))

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def shares(self) -> np.ndarray:
        return self.counts / max(self.total, 1)

    def psi(self) -> float:
        """PSI of the scores counted so far against the development distribution."""
        return population_stability_index(np.asarray(self.reference.shares), self.shares())


def population_stability_index(expected: np.ndarray, actual: np.ndarray) -> float:
    """Σ (a − e) ln(a / e) over bins, shares floored at `SHARE_FLOOR`.

    Args:
        expected: development shares per bin.
        actual: scored shares per bin (same bins).
    """
    e = np.maximum(np.asarray(expected, dtype=np.float64), SHARE_FLOOR)
    a = np.maximum(np.asarray(actual, dtype=np.float64), SHARE_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))
