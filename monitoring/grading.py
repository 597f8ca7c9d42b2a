"""One book graded for monitoring: the batch engine's scores, the rules, the feature bins.

The book is read chunk by chunk (`TableSource`) and each chunk goes through the batch
engine (identifier check, validation, encoding, scores), then the monitoring rules.
What is kept per customer is small (key, PD, score, grades, fired rules); per feature
only counts are kept: customers and score points per bin (`FeatureBins`), for the
stability report. The customer key is the bank's own pseudonymous key: a column the
task declares a direct identifier, or one whose values a PII detector flags, is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fedscore.core.errors import TableReadError
from fedscore.decisions.fields import GRADE, PD, SCORE, RuleFields
from fedscore.monitoring.rules import MonitoringRules
from fedscore.scoring.batch.blocks import EncodedChunk
from fedscore.scoring.batch.engine import BatchEngine
from fedscore.scoring.batch.sources import TableSource

KEY_RULE = (
    "the customer key is copied into the monitoring output and must be the bank's own "
    "pseudonymous key, never a direct identifier; nothing was written"
)


@dataclass
class FeatureBins:
    """Customers and score points per bin of each raw feature, counted chunk by chunk.

    Attributes:
        names: the raw features.
        counts: per feature, customers per bin.
        points: per feature, the sum over its customers of the points the feature cost
            them (factor × logit contribution against the baseline) per bin.
    """

    names: tuple[str, ...]
    counts: list[np.ndarray] = field(default_factory=list)
    points: list[np.ndarray] = field(default_factory=list)

    def add(self, encoded: EncodedChunk, points: np.ndarray | None, bins: int) -> None:
        """Count one chunk.

        Args:
            encoded: its model input (the bins: a level or bin column, else `bins` equal
                bins of the scaled value).
            points: (rows × features) points cost per feature; None to count customers only.
            bins: equal bins of a scaled value.
        """
        for k, block in enumerate(encoded.blocks):
            if block.hot is not None:
                index, size = block.hot, block.width
            else:
                assert block.scaled is not None
                index = np.minimum((block.scaled * bins).astype(np.int64), bins - 1)
                index, size = np.maximum(index, 0), bins
            weights = points[:, k] if points is not None else None
            counts = np.bincount(index, minlength=size)
            sums = (
                np.bincount(index, weights=weights, minlength=size)
                if weights is not None
                else np.zeros(size)
            )
            if len(self.counts) <= k:
                self.counts.append(counts.astype(np.int64))
                self.points.append(sums)
            else:
                self.counts[k] += counts
                self.points[k] += sums


@dataclass(frozen=True)
class GradedBook:
    """A book graded for monitoring.

    Attributes:
        source: the file.
        key: the customer key column's name.
        keys: each customer's key, as read.
        probability, score: PD and points per customer.
        score_grade: grade index by score alone.
        grade: the monitoring grade index (after the rules).
        fired: (customers × rules) whether each monitoring rule fired.
        bins: the feature bins.
    """

    source: str
    key: str
    keys: pa.Array
    probability: np.ndarray
    score: np.ndarray
    score_grade: np.ndarray
    grade: np.ndarray
    fired: np.ndarray
    bins: FeatureBins

    def __len__(self) -> int:
        return len(self.score)


def grade_book(
    path: str | Path, engine: BatchEngine, rules: MonitoringRules, key: str, chunk_rows: int
) -> GradedBook:
    """Grade the book at `path` with the engine's model and the monitoring rules.

    Args:
        path: the book (.parquet, .csv, .csv.gz).
        engine: the batch engine of the model.
        rules: the compiled monitoring file.
        key: the customer key column.
        chunk_rows: rows per chunk.

    Raises:
        TableReadError: unreadable file; key column missing, empty, a direct identifier,
            holding identifiers, or a key repeated (naming the rows); no data rows.
        TableValidationError: a bad feature cell (naming row and column, never the value).
    """
    scorer = engine.scorer
    path = Path(path)
    if key in scorer.guard.identifier_columns:
        raise TableReadError(
            f"{path}: key column '{key}' is a direct identifier of the task: {KEY_RULE}"
        )
    reader = TableSource(path, [key, *engine.features], chunk_rows)
    if key not in reader.present:
        raise TableReadError(f"{path}: the customer key column '{key}' is not in the file")
    fields = RuleFields(scorer.schema, tuple(scorer.grades.names))
    names = rules.rules.names - {PD, SCORE, GRADE}
    bins = FeatureBins(scorer.groups.names)
    parts: dict[str, list[np.ndarray]] = {
        n: [] for n in ("pd", "score", "by_score", "grade", "fired")
    }
    keys: list[pa.Array] = []
    for batch, first_row in reader.batches():
        engine.candidates.check(batch, [key], str(path), KEY_RULE, first_row, reader.header_lines)
        encoded = engine.encode(batch, str(path), first_row, reader.header_lines)
        scored = engine.score_encoded(encoded)
        points = None
        if scored.contributions is not None:
            points = scored.contributions * scorer.scorecard.factor
        bins.add(encoded, points, rules.report.feature_bins)
        columns = fields.table(pa.Table.from_batches([batch]), frozenset(names))
        columns.update(
            {PD: scored.probability, SCORE: scored.score, GRADE: scored.grade.astype(np.float64)}
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            verdicts = rules.rules.evaluate(columns, len(scored))
        parts["pd"].append(scored.probability)
        parts["score"].append(scored.score)
        parts["by_score"].append(scored.grade)
        parts["grade"].append(np.maximum(scored.grade, verdicts.grade_cap).astype(np.int8))
        parts["fired"].append(verdicts.fired)
        keys.append(batch.column(key))
    if not keys:
        raise TableReadError(f"{path}: the table has no data rows")
    all_keys = pa.concat_arrays(keys)
    _refuse_bad_keys(path, key, all_keys, reader.header_lines)
    return GradedBook(
        str(path),
        key,
        all_keys,
        np.concatenate(parts["pd"]),
        np.concatenate(parts["score"]),
        np.concatenate(parts["by_score"]),
        np.concatenate(parts["grade"]),
        np.concatenate(parts["fired"]),
        bins,
    )


def _refuse_bad_keys(path: Path, key: str, keys: pa.Array, header: int) -> None:
    """Refuse a key column with an empty cell or a repeated key (rows named, never keys)."""

    def where(rows: np.ndarray) -> str:
        shown = ", ".join(
            f"row {r} (line {r + header})" if header else f"row {r}" for r in rows[:5]
        )
        return shown + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")

    empty = keys.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type):
        blank = pc.equal(pc.utf8_trim_whitespace(keys), "").fill_null(True)
        empty = empty | blank.to_numpy(zero_copy_only=False)
    missing = np.flatnonzero(empty) + 1
    if missing.size:
        raise TableReadError(f"{path}: column '{key}': customer key is missing in {where(missing)}")
    codes = keys.dictionary_encode().indices.to_numpy(zero_copy_only=False)
    distinct, first = np.unique(codes, return_index=True)  # each key's first row
    earliest = np.empty(int(distinct.max()) + 1, dtype=np.int64)
    earliest[distinct] = first
    repeated = np.flatnonzero(earliest[codes] != np.arange(len(codes))) + 1
    if repeated.size:
        raise TableReadError(
            f"{path}: column '{key}': a customer key repeats an earlier row's in "
            f"{where(repeated)}; each customer must appear once per book"
        )
