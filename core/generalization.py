"""Coarsening a quasi-identifier's values by a `Generalization` rule.

Shared by de-identification (which coarsens before anything is computed) and by the
feature encoder (which applies the same rule, so a model sees the same banded value
at training, evaluation and scoring time).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedscore.core.schema import Generalization


def band_midpoints(values: np.ndarray, band: float) -> np.ndarray:
    """Each number replaced by the midpoint of its band [k·band, (k+1)·band)."""
    return np.floor(values / band) * band + band / 2


def generalize_column(values: pd.Series, rule: Generalization) -> pd.Series:
    """One column coarsened: numbers to band midpoints, dates to "YYYY-MM" or "YYYY"."""
    if rule.band is not None:
        return pd.Series(
            band_midpoints(values.to_numpy(dtype=np.float64), rule.band), index=values.index
        )
    assert rule.date_level is not None
    dates = pd.to_datetime(values)
    return dates.dt.strftime("%Y-%m" if rule.date_level == "month" else "%Y").astype("string")


def describe(rule: Generalization) -> str:
    """How `rule` coarsens a value, in words (e.g. "generalized to 10-wide bands (midpoint)")."""
    if rule.band is not None:
        return f"generalized to {rule.band:g}-wide bands (midpoint)"
    return f"generalized to {rule.date_level}"
