"""Which encoded columns belong to which raw feature (to report reasons by raw feature).

The encoding (`fedscore.core.encoding.FeatureEncoder`) turns one raw feature into one or
more columns (scaled value, bins, one-hot levels) and appends the derived features
(ratios, counts) after them. Reason codes are reported per raw feature: the
contributions of a feature's columns are summed, and a derived feature is its own
reason (it is computed from several raw columns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fedscore.core.encoding import FeatureEncoder, numeric_names
from fedscore.core.schema import TaskSchema


@dataclass(frozen=True)
class FeatureGroups:
    """The raw features of a task and the encoded columns of each.

    Attributes:
        names: raw feature names (schema features, then derived features), in order.
        owner: for each encoded column, the index of its raw feature in `names`.
        grouping: the (encoded columns × raw features) 0/1 matrix summing columns into
            their feature.
    """

    names: tuple[str, ...]
    owner: np.ndarray
    grouping: np.ndarray

    @classmethod
    def of(cls, schema: TaskSchema) -> FeatureGroups:
        """The grouping of `schema`'s encoding (checked against the encoder's width)."""
        names: list[str] = []
        owner: list[int] = []
        for spec in schema.features:
            if spec.numeric is not None:
                width = len(numeric_names(spec.name, spec.numeric))
            else:
                assert spec.categorical is not None
                width = len(spec.categorical.levels())
            owner += [len(names)] * width
            names.append(spec.name)
        for derived in schema.derived:
            owner += [len(names)] * len(numeric_names(derived.name, derived.encoding))
            names.append(derived.name)
        owners = np.asarray(owner, dtype=np.int64)
        grouping = np.zeros((len(owners), len(names)), dtype=np.float64)
        grouping[np.arange(len(owners)), owners] = 1.0
        groups = cls(tuple(names), owners, grouping)
        width = FeatureEncoder(schema).n_features
        if len(owner) != width:
            raise AssertionError(f"feature grouping covers {len(owner)} of {width} columns")
        return groups
