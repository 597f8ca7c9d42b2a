"""Exact contributions of a logistic regression: w_j · (x_j − baseline_j).

The logit is w·x + b, so logit(x) − logit(baseline) = Σ_j w_j (x_j − baseline_j) with
no approximation: each encoded column's term is its exact share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fedscore.core.errors import ConfigError
from fedscore.scoring.reasons.registry import register_attribution

if TYPE_CHECKING:
    from fedscore.core.artifact import ScoringModel


class LinearContributions:
    """w_j · (x_j − baseline_j) per encoded column.

    Args:
        weights: The model's coefficients (one per encoded column).
        baseline: The reference customer in the encoded space.
    """

    def __init__(self, weights: np.ndarray, baseline: np.ndarray) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.baseline = np.asarray(baseline, dtype=np.float64)
        # Per grouping (fixed for a scorer): w ∘ G and (w ∘ b) · G, computed once.
        self._grouped: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return (np.asarray(features, dtype=np.float64) - self.baseline) * self.weights

    def per_feature(self, features: np.ndarray, grouping: np.ndarray) -> np.ndarray:
        """Σ_{j in feature} w_j (x_j − b_j) = x · (w ∘ G) − (w ∘ b) · G: one matrix product."""
        weighted, offset = self._weighted(grouping)
        contributions: np.ndarray = np.asarray(features, dtype=np.float64) @ weighted - offset
        return contributions

    def baseline_terms(self, grouping: np.ndarray) -> np.ndarray:
        """(w ∘ b) · G: the baseline's Σ_{j in feature} w_j b_j per raw feature.

        A row's contributions are its own such terms less these (how the batch engine
        computes them block by block).
        """
        return self._weighted(grouping)[1]

    def _weighted(self, grouping: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._grouped is None or self._grouped[0] is not grouping:
            weighted = self.weights[:, None] * grouping
            self._grouped = (grouping, weighted, (self.weights * self.baseline) @ grouping)
        return self._grouped[1], self._grouped[2]


@register_attribution("exact_linear")
def exact_linear(model: ScoringModel, baseline: np.ndarray, steps: int) -> LinearContributions:
    """The exact contributions of a model that is a single linear layer."""
    linear = model.linear
    if linear is None:
        raise ConfigError("exact_linear reason codes need a linear model (lr)")
    return LinearContributions(linear[0], baseline)
