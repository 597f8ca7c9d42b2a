"""The top reasons of each customer: the raw features that lowered the score most."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Reason:
    """One reason code.

    Attributes:
        feature: the raw feature (a schema feature or a derived feature).
        logit_contribution: what it added to the customer's logit against the baseline.
        points: the score points it cost (factor × logit_contribution).
    """

    feature: str
    logit_contribution: float
    points: float


def top_reasons(by_feature: np.ndarray, top: int) -> np.ndarray:
    """Indices of each row's `top` largest positive contributions, largest first; -1 pads.

    Args:
        by_feature: logit contributions per raw feature (rows × features); a positive
            contribution raised the probability of default, so it lowered the score.
        top: how many reasons per row.
    """
    rows, features = by_feature.shape
    top = min(top, features)
    chosen = np.full((rows, top), -1, dtype=np.int16)
    remaining = np.array(by_feature, dtype=np.float64)  # a copy: picked entries are cleared
    everyone = np.arange(rows)
    # `top` passes of argmax (top is small): cheaper than sorting every row.
    for k in range(top):
        best = remaining.argmax(axis=1)
        positive = remaining[everyone, best] > 0
        chosen[positive, k] = best[positive]
        remaining[everyone, best] = -np.inf
    return chosen
