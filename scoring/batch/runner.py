"""Scoring a whole book: read in chunks, validate, encode, score, write, count grades and PSI.

Every chunk goes through the vectorized batch engine (`BatchEngine`: the same
validation and encoding as training, on Arrow data); the first bad chunk stops the run
with an error naming the file, row and column, and the partial output is removed
(`TableSink`). Columns copied
to the output (`keep`) must not be direct identifiers of the task nor hold values a
PII detector flags, unless that is asked for explicitly (`keep_identifiers`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from fedscore.core.documents import write_json
from fedscore.core.errors import ConfigError, TableReadError
from fedscore.scoring.batch.engine import BatchEngine, ChunkColumns
from fedscore.scoring.batch.pipeline import ordered_map
from fedscore.scoring.batch.sinks import TableSink, refuse_folder
from fedscore.scoring.batch.sources import TableSource
from fedscore.scoring.errors import OutputWriteError
from fedscore.scoring.psi import ScoreHistogram
from fedscore.scoring.scorer import ScoredBatch, Scorer

KEPT_RULE = (
    "kept columns are copied into the output, which must not carry direct identifiers "
    "unless asked for explicitly (--keep-identifiers); nothing was scored"
)


@dataclass(frozen=True)
class BatchSummary:
    """What a batch scoring run did.

    Attributes:
        model_version: the model that scored the book.
        input, output: the files.
        rows: customers scored.
        seconds: wall time.
        grades: customers per grade, best grade first.
        psi: population stability index of the book's scores against the development
            population's (over the development deciles).
        score_shares, development_shares: the book's and the development population's
            share of customers per development decile (lowest risk first).
        psi_warning: whether PSI exceeded the configured threshold.
        warn_above: that threshold.
    """

    model_version: str
    input: str
    output: str
    rows: int
    seconds: float
    grades: dict[str, int]
    psi: float
    psi_warning: bool
    warn_above: float
    score_shares: list[float] = field(default_factory=list)
    development_shares: list[float] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def as_dict(self) -> dict[str, object]:
        return {
            "model_version": self.model_version,
            "input": self.input,
            "output": self.output,
            "rows": self.rows,
            "seconds": self.seconds,
            "rows_per_second": self.rows_per_second,
            "grades": self.grades,
            "psi": self.psi,
            "psi_warning": self.psi_warning,
            "warn_above": self.warn_above,
            "score_shares": self.score_shares,
            "development_shares": self.development_shares,
        }


class BookScorer:
    """Scores CSV/Parquet books with one scorer.

    Args:
        scorer: The registered model's scorer.
        keep: Input columns copied to the output (to join the scores back); None for the
            task's customer-key column when the file has it.
        chunk_rows: Rows per chunk (at least 1): memory is bounded by this, not by the file.
        keep_identifiers: Whether kept columns may be the task's direct identifiers or
            hold values a PII detector flags (the output then carries them); refused otherwise.
        extra: Extra output columns per chunk from the chunk and its scores (e.g. a
            decision strategy's); None for the scores only.
        threads: Chunks scored side by side (at least 1); memory grows with it.

    Raises:
        ConfigError: `chunk_rows` is below 1, or a kept column is a direct identifier
            of the task and `keep_identifiers` is False.
    """

    def __init__(
        self,
        scorer: Scorer,
        keep: list[str] | None = None,
        chunk_rows: int = 65_536,
        keep_identifiers: bool = False,
        extra: ChunkColumns | None = None,
        threads: int = 2,
    ) -> None:
        if chunk_rows < 1:
            raise ConfigError("rows per chunk (--chunk-rows) must be at least 1")
        if threads < 1:
            raise ConfigError("scoring threads must be at least 1")
        identifiers = [c for c in keep or [] if c in scorer.guard.identifier_columns]
        if identifiers and not keep_identifiers:
            raise ConfigError(
                f"columns to keep are direct identifiers of the task: {identifiers}; " + KEPT_RULE
            )
        self.scorer = scorer
        self.keep = keep
        self.chunk_rows = chunk_rows
        self.keep_identifiers = keep_identifiers
        self.extra = extra
        self.threads = threads
        self.engine = BatchEngine(scorer)

    def score_file(
        self,
        source: str | Path,
        output: str | Path,
        on_rows: Callable[[int, int | None], None] | None = None,
        summary: str | Path | None = None,
    ) -> BatchSummary:
        """Score the book at `source` into `output` (format by suffix).

        Args:
            source: the book (.parquet, .csv, .csv.gz).
            output: the scored file (.parquet, .csv, .csv.gz); written whole or not at all.
            on_rows: called after each chunk with (rows scored so far, rows in the file
                when known before reading, i.e. for Parquet, else None): for progress.
            summary: where to write the summary as JSON too; written only with the
                output, so a failed run leaves neither.

        Raises:
            TableReadError, TableValidationError: bad input (nothing written).
            OutputWriteError: the output or the summary cannot be written (nothing left).
        """
        started = time.perf_counter()
        source, output = Path(source), Path(output)
        summary = Path(summary) if summary is not None else None
        _refuse_overlaps(source, output, summary)
        reader, passthrough = self._open(source)
        scanned = [] if self.keep_identifiers else passthrough
        histogram = ScoreHistogram(self.scorer.profile.distribution)
        grades = np.zeros(len(self.scorer.grades.bands), dtype=np.int64)
        metadata = {"fedscore.model_version": self.scorer.version, "fedscore.input": source.name}
        summary_written: Path | None = None
        try:
            with TableSink(output, metadata) as sink:

                def score(item: tuple[pa.RecordBatch, int]) -> tuple[pa.Table, ScoredBatch]:
                    chunk, first_row = item
                    self.engine.candidates.check(
                        chunk, scanned, str(source), KEPT_RULE, first_row, reader.header_lines
                    )
                    batch = self.engine.score(chunk, str(source), first_row, reader.header_lines)
                    return self.engine.table(chunk, passthrough, batch, self.extra), batch

                for table, batch in ordered_map(score, reader.batches(), self.threads):
                    histogram.add(batch.logit)
                    grades += np.bincount(batch.grade, minlength=len(grades))
                    sink.write(table)
                    if on_rows is not None:
                        on_rows(histogram.total, reader.total_rows)
                if histogram.total == 0:
                    raise TableReadError(f"{source}: the table has no data rows")
                result = self._summary(source, output, started, histogram, grades)
                if summary is not None:
                    _write_summary(summary, result)
                    summary_written = summary
        except OutputWriteError:
            if summary_written is not None:  # then the output itself could not be committed
                summary_written.unlink(missing_ok=True)
            raise
        return result

    def _open(self, source: Path) -> tuple[TableSource, list[str]]:
        """The book's reader (features and kept columns only) and the kept columns it has.

        Raises:
            TableReadError: the file cannot be read, or lacks a column asked to be kept.
        """
        keep = self.keep if self.keep is not None else [self.scorer.model.schema.customer_key.name]
        features = list(self.scorer.records.feature_names)
        reader = TableSource(source, [*dict.fromkeys([*keep, *features])], self.chunk_rows)
        if self.keep is not None:
            missing = [c for c in self.keep if c not in reader.present]
            if missing:
                raise TableReadError(f"{source}: columns to keep are not in the file: {missing}")
        return reader, [c for c in keep if c in reader.present]

    def _summary(
        self,
        source: Path,
        output: Path,
        started: float,
        histogram: ScoreHistogram,
        grades: np.ndarray,
    ) -> BatchSummary:
        """What the run did, from its score histogram and grade counts."""
        psi = histogram.psi()
        warn_above = self.scorer.config.psi.warn_above
        return BatchSummary(
            model_version=self.scorer.version,
            input=str(source),
            output=str(output),
            rows=histogram.total,
            seconds=time.perf_counter() - started,
            grades={name: int(n) for name, n in zip(self.scorer.grades.names, grades, strict=True)},
            psi=psi,
            psi_warning=psi > warn_above,
            warn_above=warn_above,
            score_shares=histogram.shares().tolist(),
            development_shares=list(self.scorer.profile.distribution.shares),
        )


def _refuse_overlaps(source: Path, output: Path, summary: Path | None) -> None:
    """Refuse an output or summary that would overwrite the input or each other.

    Also refuse one that names a folder. Checked before anything is read.
    """
    if source.resolve() == output.resolve():
        raise TableReadError(f"{output}: the output would overwrite the input")
    refuse_folder(output, "output")
    if summary is None:
        return
    if summary.resolve() in (source.resolve(), output.resolve()):
        raise OutputWriteError(f"{summary}: the summary would overwrite the input or the output")
    refuse_folder(summary, "summary")


def _write_summary(path: Path, summary: BatchSummary) -> None:
    try:
        write_json(path, summary.as_dict())
    except OSError as exc:
        raise OutputWriteError(
            f"{path}: the summary cannot be written ({exc.strerror or exc}); nothing was kept"
        ) from None
