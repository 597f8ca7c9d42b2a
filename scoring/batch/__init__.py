"""Batch scoring of a whole book of customers, streaming CSV/Parquet in chunks."""

from fedscore.scoring.batch.runner import BatchSummary, BookScorer
from fedscore.scoring.batch.sinks import TableSink
from fedscore.scoring.batch.sources import TableSource

__all__ = ["BatchSummary", "BookScorer", "TableSink", "TableSource"]
