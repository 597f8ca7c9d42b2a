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
from fedscore.core.schema import DerivedFeature, NumericEncoding, TaskSchema, Transform
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


def encode_numeric(values: np.ndarray, encoding: NumericEncoding) -> np.ndarray:
    """Columns for one numeric value: the scaled value in [0, 1] and/or one-hot bins."""
    clipped = np.clip(values, encoding.min, encoding.max)
    parts: list[np.ndarray] = []
    if encoding.scaled:
        transform = _TRANSFORMS[encoding.transform]
        low, high = transform(np.array([encoding.min, encoding.max], dtype=np.float64))
        parts.append(((transform(clipped) - low) / (high - low))[:, None])
    if encoding.bins:
        # Interval i covers [edge_{i-1}, edge_i); values below the first edge fall in 0.
        index = np.searchsorted(np.asarray(encoding.bins), clipped, side="right")
        parts.append(np.eye(len(encoding.bins) + 1)[index])
    return np.hstack(parts)


def numeric_names(name: str, encoding: NumericEncoding) -> list[str]:
    names = [name] if encoding.scaled else []
    edges = ["-inf", *(f"{b:g}" for b in encoding.bins), "inf"]
    if encoding.bins:
        names += [f"{name}[{lo},{hi})" for lo, hi in itertools.pairwise(edges)]
    return names


class FeatureEncoder:
    """Encodes validated tables of one task into float32 feature matrices.

    Parameters
    ----------
    schema : TaskSchema
        The consortium-agreed task; the only input that shapes the encoding.
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
        parts: list[np.ndarray] = []
        for spec in self.schema.features:
            if spec.numeric is not None:
                values = frame[spec.name].to_numpy(dtype=np.float64)
                if spec.generalize is not None and spec.generalize.band is not None:
                    # The same banding de-identification applies (idempotent on banded values).
                    values = band_midpoints(values, spec.generalize.band)
                parts.append(encode_numeric(values, spec.numeric))
                continue
            assert spec.categorical is not None
            codes = frame[spec.name].to_numpy(dtype=object)
            for _, members in spec.categorical.levels():
                parts.append(np.isin(codes, members).astype(np.float64)[:, None])
        for derived in self.schema.derived:
            parts.append(encode_numeric(self._derive(frame, derived), derived.encoding))
        matrix = np.hstack(parts).astype(np.float32)
        assert matrix.shape[1] == self.n_features
        return matrix

    @staticmethod
    def _numeric_column(frame: pd.DataFrame, name: str) -> np.ndarray:
        return pd.to_numeric(frame[name]).to_numpy(dtype=np.float64)

    def _derive(self, frame: pd.DataFrame, derived: DerivedFeature) -> np.ndarray:
        if derived.kind == "ratio":
            assert derived.numerator is not None and derived.denominator is not None
            numerator = self._numeric_column(frame, derived.numerator)
            denominator = self._numeric_column(frame, derived.denominator)
            return numerator / np.maximum(denominator, derived.floor)
        stacked = np.column_stack([self._numeric_column(frame, c) for c in derived.columns])
        return _COMPARISONS[derived.op](stacked, derived.value).sum(axis=1).astype(np.float64)
