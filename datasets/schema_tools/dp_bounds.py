"""Differentially private bounds for a drafted schema (`fedscore schema draft --dp-epsilon`).

Each numeric column's bounds are round numbers from a public, finite list, `CANDIDATES`
(0 and ±1, 2, 5 × 10^k for k from -3 to 12), chosen with the sparse vector technique
(AboveThreshold: Dwork and Roth, "The Algorithmic Foundations of Differential Privacy",
2014, algorithm 1 and theorem 3.23):

- the upper bound is the first candidate, in ascending order, above which at most a share
  1 - `HIGH_QUANTILE` of the values lie: the answers (1 - q)·n - #{values > g} are compared
  with a threshold of 0, the threshold perturbed once by Laplace(2/ε') and each answer by
  Laplace(4/ε');
- the lower bound likewise, in descending order, with q·n - #{values < g}, q = `LOW_QUANTILE`.

Each answer changes by at most 1 when one person's row is added, removed or changed, so
each bound is ε'-DP however many candidates are compared; stopping at the first crossing
keeps a bound near its quantile instead of anywhere beyond the data. Each of the 2·k
bounds of k numeric columns gets ε' = ε / (2k): by sequential composition all of them
together are ε-DP with respect to one person, provided each person has one row;
`dp_bounds` keeps the first row of each value of the privacy-unit column first. Nothing
else in a draft is private: roles and vocabularies come from the data as it is.
"""

from __future__ import annotations

import math
import secrets

import numpy as np
import pandas as pd

#: The quantiles the bounds estimate: values beyond them are clipped by the node.
LOW_QUANTILE = 0.01
HIGH_QUANTILE = 0.99
_MAGNITUDES = [m * 10.0**k for k in range(-3, 13) for m in (1, 2, 5)]
#: The public values a bound may take, ascending.
CANDIDATES = np.array(sorted([-v for v in _MAGNITUDES] + [0.0] + _MAGNITUDES))


def dp_bounds(
    frame: pd.DataFrame,
    columns: list[str],
    epsilon: float,
    unit: str | None,
    rng: np.random.Generator | None = None,
) -> dict[str, tuple[float, float]]:
    """ε-DP (min, max) of each of `columns`, with ε split evenly over all the bounds.

    Args:
        frame: the table as read (cells as text or numbers).
        columns: the numeric columns to bound.
        epsilon: the total privacy budget of all the bounds (> 0).
        unit: the column identifying a person (one row per value is kept); None when
            each row is a different person.
        rng: the randomness (tests pass a seeded one); by default seeded from `secrets`.

    Raises:
        ValueError: epsilon is not a positive finite number.
    """
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"epsilon must be a positive finite number, got {epsilon}")
    rng = rng or np.random.default_rng(secrets.randbits(128))
    people = frame.drop_duplicates(unit) if unit is not None else frame
    share = epsilon_per_bound(epsilon, len(columns))
    bounds = {}
    for name in columns:
        values = np.sort(pd.to_numeric(people[name], errors="coerce").dropna().to_numpy(float))
        count = len(values)
        below = np.searchsorted(values, CANDIDATES, side="left")  # values < candidate
        above = count - np.searchsorted(values, CANDIDATES, side="right")  # values > it
        low_answers = (LOW_QUANTILE * count - below)[::-1]  # descending candidates
        high_answers = (1 - HIGH_QUANTILE) * count - above  # ascending candidates
        low = CANDIDATES[::-1][_above_threshold(low_answers, share, rng)]
        high = CANDIDATES[_above_threshold(high_answers, share, rng)]
        bounds[name] = _ordered(float(low), float(high))
    return bounds


def epsilon_per_bound(epsilon: float, columns: int) -> float:
    """The ε of each bound when `epsilon` is split evenly over the 2 bounds of `columns` columns."""
    return epsilon / (2 * columns) if columns else epsilon


def _above_threshold(answers: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """The index of the first answer that reaches 0, with noise (ε-DP; the last if none).

    Args:
        answers: the queries' answers in the order asked, each of sensitivity 1.
        epsilon: the privacy budget of the whole search.
        rng: the randomness.
    """
    threshold = rng.laplace(scale=2 / epsilon)
    # Noise drawn for every query at once: answers after the first crossing are never used.
    noisy = answers + rng.laplace(scale=4 / epsilon, size=answers.shape)
    crossing = np.flatnonzero(noisy >= threshold)
    return int(crossing[0]) if crossing.size else len(answers) - 1


def _ordered(low: float, high: float) -> tuple[float, float]:
    """Two bounds as (min, max) with min < max: equal ones widen to the next candidate."""
    low, high = min(low, high), max(low, high)
    if low < high:
        return low, high
    index = int(np.searchsorted(CANDIDATES, low))
    if index + 1 < len(CANDIDATES):
        return low, float(CANDIDATES[index + 1])
    return float(CANDIDATES[index - 1]), high
