"""The floor of batch grading: read the book's columns and compute the logit, by hand.

What any batch scorer of this model must at least do, written as plainly as pyarrow and
NumPy allow: read the same columns of the Parquet book in record batches (the customer
key and the features) and compute the logit, the 91-wide product of the input with the
weights, term by term: a scaled number times its weight, a one-hot level or bin as the
gather of its weight (the zeros of the one-hot columns skipped: writing the dense matrix
and multiplying it runs at less than half the speed). No validation, no identifier
check, no points, grades, reasons nor output. `benchmarks/scoring.py` runs it in its own
process next to `fedscore score` on the same book.

Usage: python benchmarks/scoring_floor.py REGISTRY BOOK  (prints a JSON line)
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pyarrow.parquet as pq

from fedscore.core.encoding import derive, numeric_names, numeric_parts
from fedscore.core.schema import TaskSchema
from fedscore.scoring import ModelRegistry


def _logits(batch, schema: TaskSchema, weights: np.ndarray) -> np.ndarray:
    """One batch's logits less the intercept: Σ over the input's columns of weight × value."""
    logits = np.zeros(batch.num_rows)
    raw: dict[str, np.ndarray] = {}
    column = 0

    def numeric(values: np.ndarray, encoding, column: int) -> None:
        nonlocal logits
        scaled, index = numeric_parts(values, encoding)
        if scaled is not None:
            logits += weights[column] * scaled
            column += 1
        if index is not None:
            logits += weights[column + index]

    for spec in schema.features:
        values = batch.column(spec.name).to_numpy().astype(np.float64)
        raw[spec.name] = values
        if spec.numeric is not None:
            if spec.generalize is not None and spec.generalize.band is not None:
                band = spec.generalize.band
                values = np.floor(values / band) * band + band / 2
            numeric(values, spec.numeric, column)
            column += len(numeric_names(spec.name, spec.numeric))
        else:
            assert spec.categorical is not None
            low = int(values.min())
            level = np.zeros(int(values.max()) - low + 1, dtype=np.int64)
            for index, (_, members) in enumerate(spec.categorical.levels()):
                for member in members:
                    if low <= int(member) < low + len(level):
                        level[int(member) - low] = index
            logits += weights[column + level[values.astype(np.int64) - low]]
            column += len(spec.categorical.levels())
    for derived in schema.derived:
        numeric(derive(derived, raw.__getitem__), derived.encoding, column)
        column += len(numeric_names(derived.name, derived.encoding))
    return logits


def main(argv: list[str]) -> int:
    """Time the floor over the book `argv[1]` with the production model of registry `argv[0]`."""
    registry, book = argv
    model = ModelRegistry(registry).load("production").scorer().model
    linear = model.linear
    assert linear is not None, "the floor is written for a logistic regression"
    weights, intercept = linear
    columns = ["customer_id", *(spec.name for spec in model.schema.features)]
    started = time.perf_counter()
    rows, total = 0, 0.0
    reader = pq.ParquetFile(book, buffer_size=1 << 20, pre_buffer=False)
    for batch in reader.iter_batches(batch_size=65_536, columns=columns):
        logits = _logits(batch, model.schema, weights) + intercept
        rows += batch.num_rows
        total += float(logits.sum())
    seconds = time.perf_counter() - started
    print(json.dumps({"rows": rows, "seconds": seconds, "rows_per_second": rows / seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
