"""How stable each feature (and the score) is between two books: PSI and characteristic shift.

Per raw feature, over the bins of `FeatureBins` (a categorical feature's levels, a
numeric feature's bins, else equal bins of its scaled value):

- PSI = Σ (a − e) ln(a / e) over bins, e the first book's shares, a the second's
  (shares floored as for the score's PSI, `fedscore.scoring.psi`);
- characteristic stability: Σ (a − e) × the mean points the feature costs customers in
  the bin (over both books): by how many points the feature's change of mix moved the
  average score down (positive: the book got riskier through this feature).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fedscore.monitoring.grading import FeatureBins
from fedscore.scoring.psi import population_stability_index


@dataclass(frozen=True)
class FeatureStability:
    """One feature's stability between the two books.

    Attributes:
        feature: the raw feature.
        psi: its population stability index.
        points_shift: the characteristic stability (points the mix change cost on average).
        shares_t1, shares_t2: customers' shares per bin in each book.
        unstable: whether PSI exceeds the warning threshold.
    """

    feature: str
    psi: float
    points_shift: float
    shares_t1: list[float]
    shares_t2: list[float]
    unstable: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "feature": self.feature,
            "psi": self.psi,
            "points_shift": self.points_shift,
            "shares_t1": self.shares_t1,
            "shares_t2": self.shares_t2,
            "unstable": self.unstable,
        }


def _shares(counts: np.ndarray) -> np.ndarray:
    shares: np.ndarray = counts / max(int(counts.sum()), 1)
    return shares


def feature_stability(
    first: FeatureBins, second: FeatureBins, warn_above: float
) -> list[FeatureStability]:
    """Each feature's stability from the two books' bins (same model, same bins).

    Args:
        first: the bins of the first book (T1).
        second: the bins of the second book (T2).
        warn_above: the PSI above which a feature is flagged unstable.
    """
    out = []
    for k, name in enumerate(first.names):
        e, a = _shares(first.counts[k]), _shares(second.counts[k])
        customers = first.counts[k] + second.counts[k]
        mean_points = np.divide(
            first.points[k] + second.points[k],
            customers,
            out=np.zeros(len(customers)),
            where=customers > 0,
        )
        psi = population_stability_index(e, a)
        shift = float(np.sum((a - e) * mean_points))
        out.append(FeatureStability(name, psi, shift, e.tolist(), a.tolist(), psi > warn_above))
    return out


def score_psi(first: np.ndarray, second: np.ndarray, bins: int = 10) -> float:
    """PSI of the second book's scores against the first's, over the first's deciles.

    Args:
        first: the first book's score points (T1).
        second: the second book's (T2).
        bins: quantile bins of the first book.
    """
    edges = np.unique(np.quantile(first, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, first, side="right"), minlength=len(edges) + 1)
    a = np.bincount(np.searchsorted(edges, second, side="right"), minlength=len(edges) + 1)
    return population_stability_index(_shares(e), _shares(a))
