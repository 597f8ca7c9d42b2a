"""Checking a sample of a party's table against a task schema, as its node would.

The node's own checks, on the first rows of the file only (so the check answers at once
on any table): every validation problem (`fedscore.core.validation.check_frame`) and
every column the PII scan would refuse (`fedscore.privacy.deidentification.pipeline`).
Notes add what the node would do silently or late: columns it drops, values it clips to
the bounds, and the k-anonymity the sample reaches. Nothing names a cell's value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fedscore.core.errors import TableReadError
from fedscore.core.schema import TaskSchema
from fedscore.core.schema.fields import number_text
from fedscore.core.tabular import header_lines, read_table
from fedscore.core.validation import check_frame, label_column
from fedscore.datasets.schema_tools.report import CheckReport, describe_rows
from fedscore.privacy.deidentification.generalization import generalize
from fedscore.privacy.deidentification.kanonymity import enforce_k_anonymity
from fedscore.privacy.deidentification.pipeline import UNDECLARED_PII_ADVICE, pii_scanned_columns
from fedscore.privacy.pii import scan_frame

#: Rows of a table checked by default: enough to find most problems, fast on any file.
SAMPLE_ROWS = 10_000


def check_table_sample(
    schema: TaskSchema, path: Path, max_rows: int = SAMPLE_ROWS
) -> tuple[int, CheckReport]:
    """The problems of the first `max_rows` rows of a party's table, and notes.

    Args:
        schema: the task the table must match.
        path: the party's table (CSV or Parquet).
        max_rows: how many data rows to read from the start of the file.

    Returns:
        How many rows were read (fewer than `max_rows`: the whole file), and the report.
    """
    source = str(path)
    try:
        raw = read_table(path, max_rows=max_rows)
        header = header_lines(path)
    except TableReadError as exc:
        return 0, CheckReport((str(exc),))
    checked = check_frame(raw, schema)
    problems = [describe_rows(found, source, header) for found in checked.problems]
    problems += _pii_problems(raw, schema, source, header)
    notes = _undeclared(raw, schema, source) + _clipped(checked.frame, schema, source)
    if not checked.problems:
        notes += _label_classes(checked.frame, source) + _k_anonymity(checked.frame, schema)
    return len(raw), CheckReport(tuple(problems), tuple(notes))


def _pii_problems(
    raw: pd.DataFrame, schema: TaskSchema, source: str, header_lines: int
) -> list[str]:
    """Each column the node's PII scan would refuse: the count and kind found, the first row."""
    hits = scan_frame(raw, pii_scanned_columns(raw, schema))
    return [
        f"{source}, column '{hit.column}': {hit.count} value(s) look like {hit.detector}"
        f"{hit.first_in(header_lines)}, in a column not declared a direct identifier: the "
        "node refuses the table. " + UNDECLARED_PII_ADVICE
        for hit in hits
    ]


def _undeclared(raw: pd.DataFrame, schema: TaskSchema, source: str) -> list[str]:
    """The table's columns the schema does not declare (scanned for PII, then dropped)."""
    declared = {spec.name for spec in schema.columns}
    return [
        f"{source}, column '{name}': not declared in the task schema; the node scans it for "
        "personal information, then drops it"
        for name in raw.columns
        if name not in declared
    ]


def _clipped(frame: pd.DataFrame, schema: TaskSchema, source: str) -> list[str]:
    """How many rows of each numeric column lie outside its bounds (the node clips them)."""
    notes = []
    for spec in schema.features:
        if spec.numeric is None or spec.name not in frame:
            continue
        values = frame[spec.name].to_numpy(dtype=np.float64)
        low, high = spec.numeric.min, spec.numeric.max
        below, above = int((values < low).sum()), int((values > high).sum())
        if below or above:
            notes.append(
                f"{source}, column '{spec.name}': {below} row(s) below min = "
                f"{number_text(low)} and {above} above max = {number_text(high)}; the node "
                "clips them to the bounds"
            )
    return notes


def _label_classes(frame: pd.DataFrame, source: str) -> list[str]:
    """A note when the sample holds one label class only (a node needs both to train)."""
    if label_column() in frame and frame[label_column()].nunique() == 1:
        return [f"{source}: the rows read hold one label class only; a node needs both"]
    return []


def _k_anonymity(frame: pd.DataFrame, schema: TaskSchema) -> list[str]:
    """The k-anonymity the rows read reach, as the node measures it (an estimate)."""
    rules = schema.deidentification
    kept = [spec.name for spec in schema.quasi_identifiers if spec.keep and spec.name in frame]
    if not kept or frame.empty:
        return []
    generalized, _ = generalize(frame[kept], schema)
    result = enforce_k_anonymity(generalized, kept, rules.k_min)
    estimate = (
        f"k-anonymity, estimated on the rows read (before consent and the rows-per-person "
        f"bound; a whole table has larger classes): reaching k = {rules.k_min} suppresses "
        f"{result.suppression_rate:.1%} of them"
    )
    if result.suppression_rate <= rules.max_suppression_rate:
        return [f"{estimate} (allowed: {rules.max_suppression_rate:.1%})"]
    return [
        f"{estimate}, above the allowed {rules.max_suppression_rate:.1%}: a node suppressing "
        "that much refuses to train; coarsen the quasi-identifiers' generalization (or check "
        "more rows with --rows)"
    ]
