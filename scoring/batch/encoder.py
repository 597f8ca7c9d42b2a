"""Arrow record batch → the model's input matrix, vectorized, with the task schema's rules.

The same encoding as `fedscore.core.encoding.FeatureEncoder` (banding, clipping,
transform, scaling, bins, one-hot levels, derived ratios and counts), compiled once from
the task schema and applied to Arrow columns with NumPy: no pandas, no per-row Python. A
chunk comes out as one block per raw feature (`EncodedChunk`): its scaled value and the
position of its one-hot column, from which the dense model input matrix is written, or a
linear model's terms per feature are read without it (a one-hot column's term is its
weight). Validation is a vouching step: a chunk whose every feature cell is a finite
number (numeric features, integer-coded categories) or an exact vocabulary entry (text
categories) is valid under `fedscore.core.validation`'s rules too. A chunk it cannot
vouch for (a null, a non-finite number, text that is no number, an unknown category, an
unusual column type) is left to the core validation, which names every problem by row
and column (see `fedscore.scoring.batch.engine`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fedscore.core.encoding import derive, numeric_names
from fedscore.core.generalization import band_midpoints
from fedscore.core.schema import ColumnSpec, NumericEncoding, Role, TaskSchema
from fedscore.scoring.batch.blocks import Block, EncodedChunk, numeric_block


@dataclass(frozen=True)
class _NumericPlan:
    """A numeric feature: its first column in the matrix, width, encoding and band."""

    name: str
    column: int
    width: int
    encoding: NumericEncoding
    band: float | None


@dataclass(frozen=True)
class _CategoricalPlan:
    """A categorical feature: its first column and the level of every category.

    Attributes:
        keys: the categories, sorted (float64 codes for integer codes, else text).
        levels: the level (column offset) of each entry of `keys`.
        low: the smallest integer code (integer codes only).
        table: the level of every integer from `low` to the largest code, -1 for an
            integer that is no category (integer codes only).
    """

    name: str
    column: int
    width: int
    integer_codes: bool
    keys: np.ndarray | pa.Array
    levels: np.ndarray
    low: int = 0
    table: np.ndarray | None = None


def _categorical_plan(spec: ColumnSpec, column: int) -> _CategoricalPlan:
    assert spec.categorical is not None
    pairs = [
        (member, level)
        for level, (_, members) in enumerate(spec.categorical.levels())
        for member in members
    ]
    if spec.categorical.integer_codes:
        codes = np.array([float(member) for member, _ in pairs])
        order = np.argsort(codes)
        levels = np.array([level for _, level in pairs], dtype=np.int64)[order]
        width = len(spec.categorical.levels())
        low = int(codes.min())
        table: np.ndarray | None = None
        if (codes == np.round(codes)).all() and codes.max() - low < 1 << 16:
            table = np.full(int(codes.max()) - low + 1, -1, dtype=np.int64)
            table[codes.astype(np.int64) - low] = np.array([level for _, level in pairs])
        return _CategoricalPlan(spec.name, column, width, True, codes[order], levels, low, table)
    keys = pa.array([member for member, _ in pairs], pa.string())
    levels = np.array([level for _, level in pairs], dtype=np.int64)
    return _CategoricalPlan(spec.name, column, len(spec.categorical.levels()), False, keys, levels)


def numbers_of(column: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """The cells of an Arrow column as finite float64 numbers; None when some cell is not one.

    Integer and floating columns are read as they are, text (CSV) is cast with Arrow's
    parser (as `fedscore.core.validation` casts it first); a null, a NaN or an infinity,
    text that does not cast and any other type give None.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if column.null_count:
        return None
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        values = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        try:
            values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    else:
        return None
    return values if np.isfinite(values).all() else None


class ArrowEncoder:
    """Encodes Arrow record batches of one task into model input, block by raw feature.

    The values are exactly `FeatureEncoder`'s (float32 values, held as float64).

    Args:
        schema: The task the model was trained under.

    Attributes:
        n_features: columns of the matrix.
        vouches: whether the fast validation covers every feature's role (numeric and
            categorical features); when False, every chunk goes to the core validation.
    """

    def __init__(self, schema: TaskSchema) -> None:
        self.schema = schema
        self._numeric: list[_NumericPlan] = []
        self._categorical: list[_CategoricalPlan] = []
        column = 0
        for spec in schema.features:
            if spec.numeric is not None:
                band = spec.generalize.band if spec.generalize is not None else None
                width = len(numeric_names(spec.name, spec.numeric))
                self._numeric.append(_NumericPlan(spec.name, column, width, spec.numeric, band))
            else:
                self._categorical.append(_categorical_plan(spec, column))
                assert spec.categorical is not None
                width = len(spec.categorical.levels())
            column += width
        self._derived: list[tuple[int, int]] = []
        for derived in schema.derived:
            width = len(numeric_names(derived.name, derived.encoding))
            self._derived.append((column, width))
            column += width
        self.n_features = column
        # Each raw feature's block: (start, width, has a scaled column, has a one-hot part).
        self._layout = [
            (p.column, p.width, p.encoding.scaled, bool(p.encoding.bins)) for p in self._numeric
        ]
        self._layout += [(c.column, c.width, False, True) for c in self._categorical]
        self._layout.sort()
        self._layout += [
            (column, width, d.encoding.scaled, bool(d.encoding.bins))
            for d, (column, width) in zip(schema.derived, self._derived, strict=True)
        ]
        self.vouches = all(s.role in (Role.NUMERIC, Role.CATEGORICAL) for s in schema.features)

    def encode(self, batch: pa.RecordBatch) -> EncodedChunk | None:
        """The chunk's model input; None when the chunk cannot be vouched for.

        Args:
            batch: the chunk as read (it must hold every feature column).
        """
        if not self.vouches:
            return None
        values: dict[str, np.ndarray] = {}
        blocks: list[Block] = []
        levels = iter(self._categorical)
        numeric = iter(self._numeric)
        for spec in self.schema.features:
            if spec.numeric is not None:
                plan = next(numeric)
                numbers = numbers_of(batch.column(plan.name))
                if numbers is None:
                    return None
                values[plan.name] = numbers
                if plan.band is not None:
                    numbers = band_midpoints(numbers, plan.band)
                blocks.append(numeric_block(plan.column, plan.width, numbers, plan.encoding))
            else:
                categorical = next(levels)
                found = self._levels(categorical, batch.column(categorical.name), values)
                if found is None:
                    return None
                blocks.append(Block(categorical.column, categorical.width, None, found))
        for derived, (column, width) in zip(self.schema.derived, self._derived, strict=True):
            raw = derive(derived, values.__getitem__)
            blocks.append(numeric_block(column, width, raw, derived.encoding))
        return EncodedChunk(batch.num_rows, self.n_features, tuple(blocks))

    def from_matrix(self, matrix: np.ndarray) -> EncodedChunk:
        """The blocks of a dense model input matrix (one the core encoding wrote)."""
        dense = np.asarray(matrix, dtype=np.float64)
        blocks = []
        for start, width, scaled, hot in self._layout:
            first = int(scaled)
            blocks.append(
                Block(
                    start,
                    width,
                    dense[:, start].copy() if scaled else None,
                    dense[:, start + first : start + width].argmax(axis=1) + first if hot else None,
                )
            )
        return EncodedChunk(len(dense), self.n_features, tuple(blocks), dense)

    @staticmethod
    def _levels(
        plan: _CategoricalPlan, column: pa.Array, values: dict[str, np.ndarray]
    ) -> np.ndarray | None:
        """Each row's level (column offset) of one categorical feature; None if unvouched.

        An integer-coded feature's codes are also kept in `values` (derived counts use them).
        """
        if plan.integer_codes:
            codes = numbers_of(column)
            if codes is None:
                return None
            if plan.table is None:  # codes too far apart for a table: a search per cell
                keys = np.asarray(plan.keys)
                position = np.minimum(np.searchsorted(keys, codes), len(keys) - 1)
                if not (keys[position] == codes).all():
                    return None
                values[plan.name] = codes
                searched: np.ndarray = plan.levels[position]
                return searched
            shifted = codes - plan.low
            index = shifted.astype(np.int64)  # a lookup table: no search per cell
            inside = (index == shifted) & (index >= 0) & (index < len(plan.table))
            if not inside.all():
                return None
            found: np.ndarray = plan.table[index]
            if (found < 0).any():
                return None
            values[plan.name] = codes
            return found
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            return None
        index = pc.index_in(column, value_set=plan.keys)
        if index.null_count:
            return None
        levels: np.ndarray = plan.levels[index.to_numpy(zero_copy_only=False)]
        return levels
