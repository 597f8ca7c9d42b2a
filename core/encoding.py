"""Turning a validated table into the feature matrix, from the task schema alone.

Nothing here looks at the data to decide how to encode it: bounds, transforms,
bins and vocabularies all come from the schema, so every party produces the
same vector for the same customer and no local statistic leaves a node.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd

from fedscore.core.generalization import band_midpoints
from fedscore.core.schema import (
    CategoricalEncoding,
    DerivedFeature,
    NumericEncoding,
    TaskSchema,
    Transform,
)
from fedscore.core.validation import ValidatedTable

_TRANSFORMS: dict[Transform, Callable[[np.ndarray], np.ndarray]] = {
    Transform.IDENTITY: lambda x: x,
    Transform.LOG1P: np.log1p,
    Transform.SIGNED_LOG1P: lambda x: np.sign(x) * np.log1p(np.abs(x)),
}


_COMPARISONS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    ">=": np.greater_equal,
    "<=": np.less_equal,
    "==": np.equal,
}


def numeric_parts(
    values: np.ndarray, encoding: NumericEncoding
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One numeric value's encoding, before it is written: (scaled value, bin index).

    Args:
        values: the raw values (float64).
        encoding: how the column is encoded.

    Returns:
        The value clipped, transformed and scaled to [0, 1] (None unless `scaled`), and
        the index of its bin among `bins`' intervals (None without bins).
    """
    clipped = np.clip(values, encoding.min, encoding.max)
    scaled: np.ndarray | None = None
    if encoding.scaled:
        transform = _TRANSFORMS[encoding.transform]
        low, high = transform(np.array([encoding.min, encoding.max], dtype=np.float64))
        scaled = (transform(clipped) - low) / (high - low)
    index: np.ndarray | None = None
    if encoding.bins:
        # Interval i covers [edge_{i-1}, edge_i); values below the first edge fall in 0.
        index = np.searchsorted(np.asarray(encoding.bins), clipped, side="right")
    return scaled, index


def encode_numeric(values: np.ndarray, encoding: NumericEncoding, out: np.ndarray) -> None:
    """Write one numeric value's columns into `out`: scaled value in [0, 1] and/or bins."""
    scaled, index = numeric_parts(values, encoding)
    if scaled is not None:
        out[:, 0] = scaled
    if index is not None:
        out[np.arange(len(values)), int(scaled is not None) + index] = 1.0


def encode_categorical(codes: np.ndarray, encoding: CategoricalEncoding, out: np.ndarray) -> None:
    """Write one categorical value's one-hot level columns into `out`."""
    level_of = {
        category: level
        for level, (_, members) in enumerate(encoding.levels())
        for category in members
    }
    categories = list(level_of)
    keys: list[object] = (
        [int(c) for c in categories] if encoding.integer_codes else list(categories)
    )
    # Position of each value among the categories (validated, so always found).
    positions = pd.Categorical(codes, categories=keys).codes
    levels = np.array([level_of[c] for c in categories], dtype=np.int64)[positions]
    out[np.arange(len(codes)), levels] = 1.0


def numeric_names(name: str, encoding: NumericEncoding) -> list[str]:
    """The names of the features a numeric column becomes, in encoding order.

    Args:
        name: the column's name.
        encoding: how the column is encoded.

    Returns:
        `name` itself when the scaled value is a feature, then one `name[lo,hi)` per bin.
    """
    names = [name] if encoding.scaled else []
    edges = ["-inf", *(f"{b:g}" for b in encoding.bins), "inf"]
    if encoding.bins:
        names += [f"{name}[{lo},{hi})" for lo, hi in itertools.pairwise(edges)]
    return names


class FeatureEncoder:
    """Encodes validated tables of one task into float32 feature matrices.

    Args:
        schema: The consortium-agreed task; the only input that shapes the encoding.
    """

    def __init__(self, schema: TaskSchema) -> None:
        self.schema = schema
        self.feature_names: list[str] = self._names()

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def _names(self) -> list[str]:
        names: list[str] = []
        for spec in self.schema.features:
            if spec.numeric is not None:
                names += numeric_names(spec.name, spec.numeric)
            else:
                assert spec.categorical is not None
                names += [f"{spec.name}={level}" for level, _ in spec.categorical.levels()]
        for derived in self.schema.derived:
            names += numeric_names(derived.name, derived.encoding)
        return names

    def transform(self, table: ValidatedTable | pd.DataFrame) -> np.ndarray:
        """The feature matrix (rows × `n_features`) of a validated table."""
        frame = table.frame if isinstance(table, ValidatedTable) else table
        matrix = np.zeros((len(frame), self.n_features), dtype=np.float32)
        column = 0
        for spec in self.schema.features:
            if spec.numeric is not None:
                values = frame[spec.name].to_numpy(dtype=np.float64)
                if spec.generalize is not None and spec.generalize.band is not None:
                    # The same banding de-identification applies (idempotent on banded values).
                    values = band_midpoints(values, spec.generalize.band)
                width = len(numeric_names(spec.name, spec.numeric))
                encode_numeric(values, spec.numeric, matrix[:, column : column + width])
            else:
                assert spec.categorical is not None
                width = len(spec.categorical.levels())
                encode_categorical(
                    frame[spec.name].to_numpy(),
                    spec.categorical,
                    matrix[:, column : column + width],
                )
            column += width
        for derived in self.schema.derived:
            width = len(numeric_names(derived.name, derived.encoding))
            encode_numeric(
                self._derive(frame, derived), derived.encoding, matrix[:, column : column + width]
            )
            column += width
        assert column == self.n_features
        return matrix

    @staticmethod
    def _numeric_column(frame: pd.DataFrame, name: str) -> np.ndarray:
        values: np.ndarray = frame[name].to_numpy(dtype=np.float64)
        return values

    def _derive(self, frame: pd.DataFrame, derived: DerivedFeature) -> np.ndarray:
        return derive(derived, lambda name: self._numeric_column(frame, name))


def derive(derived: DerivedFeature, column: Callable[[str], np.ndarray]) -> np.ndarray:
    """The raw values of a derived feature (a ratio, or a count of matching columns).

    Args:
        derived: the derived feature.
        column: the validated values (float64) of a column of the task, by name.
    """
    if derived.kind == "ratio":
        assert derived.numerator is not None and derived.denominator is not None
        numerator, denominator = column(derived.numerator), column(derived.denominator)
        ratio: np.ndarray = numerator / np.maximum(denominator, derived.floor)
        return ratio
    stacked = np.column_stack([column(c) for c in derived.columns])
    matches: np.ndarray = _COMPARISONS[derived.op](stacked, derived.value)
    counts: np.ndarray = matches.sum(axis=1).astype(np.float64)
    return counts
