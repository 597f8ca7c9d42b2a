"""The batch engine: one Arrow chunk in, its scores and output columns out, vectorized.

Per chunk: the identifier check narrowed in Arrow (`CandidateRows`), the encoding to the
model's input with NumPy (`ArrowEncoder`), the logit as a matrix product, points and
grades by array, reason codes as a top-k over the contribution matrix, and the output as
Arrow arrays with the text columns dictionary-encoded (grade, action, reasons, model
version). A chunk the encoder cannot vouch for goes through the core validation and
encoding (`Scorer.encode_frame`), which names every bad cell by row and column, never by
value, or, where the cells are valid after all (e.g. numbers written with spaces),
encodes them.

A logistic regression explained by its exact contributions is computed block by raw
feature (`EncodedChunk.terms`): the product of the one-hot matrix with the weights is a
gather of weights, the logit the sum of the terms, the contributions the terms less the
baseline's; no dense matrix is written. Other models get the dense matrix
(`Scorer.score_features`).

Extra output columns (a decision strategy's, say) come from a `ChunkColumns` function
given the chunk and its scores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pyarrow as pa

from fedscore.core.schema import Role
from fedscore.scoring.batch.blocks import EncodedChunk
from fedscore.scoring.batch.candidates import CandidateRows
from fedscore.scoring.batch.encoder import ArrowEncoder
from fedscore.scoring.reasons.linear import LinearContributions
from fedscore.scoring.scorer import ScoredBatch, Scorer

#: Extra output columns of a chunk from the chunk as read and its scores (e.g. a
#: decision strategy's decision, limit and price), by column name.
ChunkColumns = Callable[[pa.RecordBatch, ScoredBatch], Mapping[str, pa.Array]]


class BatchEngine:
    """Scores Arrow chunks of a book with one scorer.

    Args:
        scorer: The registered model's scorer.
    """

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self.encoder = ArrowEncoder(scorer.model.schema)
        self.candidates = CandidateRows(scorer.guard)
        self.features = list(scorer.records.feature_names)
        self._validated_too = [  # non-feature columns the core validation checks when read
            c.name for c in scorer.model.schema.columns if c.role == Role.LABEL
        ]
        self._grades = pa.array(scorer.grades.names, pa.string())
        self._actions = pa.array(scorer.grades.actions, pa.string())
        self._reasons = pa.array(list(scorer.groups.names), pa.string())
        self._version = pa.array([scorer.version], pa.string())
        linear = scorer.model.linear
        self._linear = (
            (linear[0], linear[1], scorer.attribution.baseline_terms(scorer.groups.grouping))
            if linear is not None and isinstance(scorer.attribution, LinearContributions)
            else None
        )

    def encode(
        self, batch: pa.RecordBatch, source: str, first_row: int, header: int
    ) -> EncodedChunk:
        """The chunk's model input, after the identifier check and validation.

        Args:
            batch: the chunk as read.
            source: the file (named in errors).
            first_row: the 1-based row number of the chunk's first row in the file.
            header: file lines before the first data row (for line numbers).

        Returns:
            The encoded chunk (for a chunk the encoder cannot vouch for, from the matrix of
            the core validation and encoding).

        Raises:
            TableReadError: a feature column holds direct identifiers.
            TableValidationError: naming the file, row (in the whole file) and column.
        """
        present = [c for c in self.features if c in batch.schema.names]
        self.candidates.check(batch, present, source, first_row=first_row, header_lines=header)
        vouchable = len(present) == len(self.features) and not any(
            c in batch.schema.names for c in self._validated_too
        )
        encoded = self.encoder.encode(batch) if vouchable else None
        if encoded is None:
            matrix = self.scorer.encode_frame(batch.to_pandas(), source, first_row, header)
            return self.encoder.from_matrix(matrix)
        return encoded

    def score(self, batch: pa.RecordBatch, source: str, first_row: int, header: int) -> ScoredBatch:
        """The chunk's scores (see `encode` for the arguments and errors)."""
        return self.score_encoded(self.encode(batch, source, first_row, header))

    def score_encoded(self, encoded: EncodedChunk) -> ScoredBatch:
        """The scores of an encoded chunk."""
        if self._linear is None:
            return self.scorer.score_features(encoded.matrix)
        _, intercept, baseline = self._linear
        terms = encoded.terms(self._linear[0])
        logits = terms.sum(axis=0) + intercept
        by_feature = np.subtract(terms.T, baseline, order="C")  # rows × raw features
        return self.scorer.scored(logits, by_feature)

    def columns(self, scored: ScoredBatch) -> dict[str, pa.Array]:
        """The output columns of scored rows, text dictionary-encoded.

        model_version, probability_of_default, score, grade, action, then reason_k and
        reason_k_points for each reason (null where fewer features lowered the score).
        """
        n = len(scored)
        grade = pa.array(scored.grade.astype(np.int8))
        columns: dict[str, pa.Array] = {
            "model_version": pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(n, dtype=np.int8)), self._version
            ),
            "probability_of_default": pa.array(scored.probability),
            "score": pa.array(scored.score),
            "grade": pa.DictionaryArray.from_arrays(grade, self._grades),
            "action": pa.DictionaryArray.from_arrays(grade, self._actions),
        }
        for k in range(scored.reasons.shape[1]):
            index = scored.reasons[:, k]
            missing = index < 0
            columns[f"reason_{k + 1}"] = pa.DictionaryArray.from_arrays(
                pa.array(np.maximum(index, 0), mask=missing), self._reasons
            )
            columns[f"reason_{k + 1}_points"] = pa.array(scored.reason_points[:, k], mask=missing)
        return columns

    def table(
        self,
        batch: pa.RecordBatch,
        passthrough: list[str],
        scored: ScoredBatch,
        extra: ChunkColumns | None = None,
    ) -> pa.Table:
        """The scored rows of one chunk: the kept columns as read, the scores, `extra`'s."""
        columns: dict[str, pa.Array] = {name: batch.column(name) for name in passthrough}
        columns.update(self.columns(scored))
        if extra is not None:
            columns.update(extra(batch, scored))
        return pa.table(columns)
