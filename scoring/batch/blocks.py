"""A chunk's model input, one block per raw feature: the dense matrix, or a linear product.

A raw feature's block of the model input holds at most one scaled value and one one-hot
column (a level or a bin). Kept that way, a chunk gives the dense matrix the model
needs, or a linear model's terms per raw feature without that matrix (the product of a
one-hot column with the weights is a gather of the weight).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from fedscore.core.encoding import numeric_parts
from fedscore.core.schema import NumericEncoding


@dataclass(frozen=True)
class Block:
    """One raw feature's columns [start, start + width) of the model input, for every row.

    Attributes:
        start: its first column.
        width: how many columns.
        scaled: the first column's value (a float32 value held as float64), or None
            when the feature has no scaled column.
        hot: the column (from `start`) that holds the one 1.0 (a level or a bin), or
            None when the feature has none.
    """

    start: int
    width: int
    scaled: np.ndarray | None
    hot: np.ndarray | None


@dataclass(frozen=True)
class EncodedChunk:
    """A chunk's model input, one block per raw feature (schema features, then derived).

    Attributes:
        rows: customers in the chunk.
        n_features: columns of the model input matrix.
        blocks: the raw features' blocks, in column order.
        dense: the dense matrix when the chunk was encoded as one (by the core encoding).
    """

    rows: int
    n_features: int
    blocks: tuple[Block, ...]
    dense: np.ndarray | None = None

    @cached_property
    def matrix(self) -> np.ndarray:
        """The dense (rows × `n_features`) float64 input matrix (as `FeatureEncoder`'s)."""
        if self.dense is not None:
            return self.dense
        matrix = np.zeros((self.rows, self.n_features), dtype=np.float64)
        flat = matrix.reshape(-1)
        starts = np.arange(self.rows, dtype=np.int64) * self.n_features
        for block in self.blocks:
            if block.scaled is not None:
                matrix[:, block.start] = block.scaled
            if block.hot is not None:
                flat[starts + block.start + block.hot] = 1.0
        return matrix

    def terms(self, weights: np.ndarray) -> np.ndarray:
        """Σ_{j in block} w_j x_j per raw feature and row: a linear model's product by blocks.

        Args:
            weights: one coefficient per column of the matrix.

        Returns:
            The (raw features × rows) terms, a raw feature's terms contiguous.
        """
        out = np.empty((len(self.blocks), self.rows), dtype=np.float64)
        for row, block in zip(out, self.blocks, strict=True):
            if block.scaled is not None:
                np.multiply(block.scaled, weights[block.start], out=row)
                if block.hot is not None:
                    row += weights[block.start : block.start + block.width][block.hot]
            elif block.hot is not None:
                np.take(weights[block.start : block.start + block.width], block.hot, out=row)
            else:
                row[:] = 0.0
        return out


def numeric_block(start: int, width: int, values: np.ndarray, encoding: NumericEncoding) -> Block:
    """A numeric value's block, its scaled value rounded to float32 as training's matrix."""
    scaled, index = numeric_parts(values, encoding)
    if scaled is not None:
        scaled = scaled.astype(np.float32).astype(np.float64)
        index = None if index is None else index + 1
    return Block(start, width, scaled, index)
