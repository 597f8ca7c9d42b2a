"""Checking a raw table against the task schema and converting it to typed columns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api import types as ptypes

from fedscore.core.errors import TableProblem, TableValidationError
from fedscore.core.schema import ColumnSpec, Role, TaskSchema
from fedscore.core.tabular import header_lines, read_table


@dataclass(frozen=True)
class ValidatedTable:
    """A party's table after validation.

    Attributes:
        frame: one typed column per schema column: numeric features as float64,
            categorical features as their category text, the label as 0/1,
            the consent column as bool, the customer key as text.
        source: the file it came from.
    """

    frame: pd.DataFrame
    source: str

    @property
    def labels(self) -> np.ndarray:
        return self.frame[_LABEL].to_numpy(dtype=np.int64)


_LABEL = "__label__"


def label_column() -> str:
    """Name under which the validated frame holds the 0/1 label."""
    return _LABEL


def load_validated(
    path: str | Path, schema: TaskSchema, model_columns_only: bool = False
) -> ValidatedTable:
    """Read a CSV/Parquet file and validate it against the schema."""
    path = Path(path)
    return validate_frame(
        read_table(path), schema, str(path), header_lines(path), model_columns_only
    )


def validate_frame(
    raw: pd.DataFrame,
    schema: TaskSchema,
    source: str = "<table>",
    header: int = 0,
    model_columns_only: bool = False,
) -> ValidatedTable:
    """Validate a raw frame; raise `TableValidationError` listing every problem found.

    Args:
        raw: The table as read.
        schema: The task it must match.
        source: The file it came from (named in errors).
        header: File lines before the first data row (to report line numbers).
        model_columns_only: Check only the features and the label (for tables that
            carry no identifiers, such as an already de-identified test set or a scoring
            request); any other column present is ignored.
    """
    raw = raw.reset_index(drop=True)
    columns, found = _check(raw, schema, model_columns_only, every_column=False)
    if found.total:
        problems = found.first(TableValidationError.max_reported)
        raise TableValidationError(source, problems, found.total, header)
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(raw)))
    return ValidatedTable(frame=frame, source=source)


@dataclass(frozen=True)
class ProblemRows:
    """One kind of problem in one column of a table, with every row it is found in.

    Attributes:
        column: the column it is in; None for a problem of the whole table.
        problem: what is wrong, without any value of a cell.
        rows: the 1-based data rows (header excluded) it is found in, ascending; empty
            for a problem of a whole column (a missing column) or of the whole table.
    """

    column: str | None
    problem: str
    rows: tuple[int, ...] = ()


@dataclass(frozen=True)
class TableCheck:
    """A table checked against the task schema: every problem, and the typed columns.

    Attributes:
        problems: every problem found, one entry per column and kind, in the order found.
        frame: the typed columns (as `ValidatedTable.frame`) of the schema's columns the
            table holds; a cell with a problem is missing (NaN) or a placeholder.
    """

    problems: list[ProblemRows]
    frame: pd.DataFrame


def check_frame(
    raw: pd.DataFrame, schema: TaskSchema, model_columns_only: bool = False
) -> TableCheck:
    """Every problem of a raw frame, without stopping at the first kind.

    The same checks as `validate_frame`, except that the columns present are checked
    even when a required column is missing (the node stops there), and that every row of
    every problem is kept.

    Args:
        raw: The table as read (or a sample of its rows).
        schema: The task it must match.
        model_columns_only: Check only the features and the label (see `validate_frame`).
    """
    raw = raw.reset_index(drop=True)
    columns, found = _check(raw, schema, model_columns_only, every_column=True)
    return TableCheck(found.grouped(), pd.DataFrame(columns, index=pd.RangeIndex(len(raw))))


def _check(
    raw: pd.DataFrame, schema: TaskSchema, model_columns_only: bool, every_column: bool
) -> tuple[dict[str, pd.Series], _ProblemCollector]:
    """The typed columns of `raw` and the problems found converting them.

    Args:
        raw: The table, with a 0-based range index.
        schema: The task it must match.
        model_columns_only: Check only the features and the label.
        every_column: Convert the columns present even when a required one is missing.
    """
    collector = _ProblemCollector()
    if raw.empty:
        collector.add(None, "the table has no data rows")
    specs = [
        c for c in schema.columns if not model_columns_only or c.is_feature or c.role == Role.LABEL
    ]
    missing = [c.name for c in specs if c.required and c.name not in raw.columns]
    for name in missing:
        role = schema.column(name).role.value
        collector.add(name, f"required {role} column is missing from the header")
    columns: dict[str, pd.Series] = {}
    if every_column or not collector.total:
        for spec in specs:
            if spec.name not in raw.columns:
                continue
            converted = _convert(raw[spec.name], spec, collector)
            if converted is not None:
                columns[spec.name if spec.role != Role.LABEL else _LABEL] = converted
    return columns, collector


class _ProblemCollector:
    """Problems in the order found, each with the rows it is in (kept as arrays, not objects)."""

    def __init__(self) -> None:
        self._found: list[tuple[str | None, str, np.ndarray | None]] = []
        self.total = 0

    def add(self, column: str | None, problem: str) -> None:
        """A problem of a whole column (or, with `column` None, of the whole table)."""
        self._found.append((column, problem, None))
        self.total += 1

    def add_rows(self, mask: np.ndarray, column: str, problem: str) -> None:
        """A problem in the rows where `mask` is true (nothing when it is true nowhere)."""
        rows = np.flatnonzero(mask) + 1
        if rows.size:
            self._found.append((column, problem, rows))
            self.total += int(rows.size)

    def first(self, limit: int) -> list[TableProblem]:
        """The first `limit` problems, one per row, in the order found."""
        problems: list[TableProblem] = []
        for column, problem, rows in self._found:
            for row in [None] if rows is None else rows[: limit - len(problems)].tolist():
                problems.append(TableProblem(row, column, problem))
            if len(problems) >= limit:
                break
        return problems[:limit]

    def grouped(self) -> list[ProblemRows]:
        """Every problem, with every row it is found in."""
        return [
            ProblemRows(column, problem, () if rows is None else tuple(rows.tolist()))
            for column, problem, rows in self._found
        ]


def _as_text(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Cells as stripped text plus a mask of empty / missing cells."""
    try:
        as_string = series.astype("string")
    except UnicodeDecodeError:
        # Bytes (a Parquet binary column) that are not UTF-8: read with replacement
        # characters, so they match no category and are reported, never quoted.
        as_string = series.map(
            lambda cell: (
                bytes(cell).decode("utf-8", "replace")
                if isinstance(cell, bytes | bytearray)
                else cell
            )
        ).astype("string")
    text = as_string.str.strip().fillna("")
    missing = series.isna().to_numpy() | (text == "").to_numpy(dtype=bool)
    return text, missing


def _integer_text(text: pd.Series) -> pd.Series:
    """'3', '3.0' and ' 3 ' all become '3' (Parquet/Excel exports write integers as floats)."""
    numbers = pd.to_numeric(text, errors="coerce")
    whole = numbers.notna() & (numbers == np.round(numbers))
    result = text.copy()
    result[whole] = numbers[whole].astype("int64").astype("string")
    return result


def _convert_numeric(series: pd.Series, spec: ColumnSpec, out: _ProblemCollector) -> pd.Series:
    # Fast path: parse the column as it is; only cells that fail are looked at as text.
    numbers = _parse_numbers(series)
    failed_rows = np.flatnonzero(~np.isfinite(numbers))
    if failed_rows.size:
        _, missing = _as_text(series.iloc[failed_rows])
        out.add_rows(
            _rows_mask(len(series), failed_rows[missing]),
            spec.name,
            "value is missing; numeric features must be filled",
        )
        out.add_rows(
            _rows_mask(len(series), failed_rows[~missing]),
            spec.name,
            "wrong type: expected a finite number",
        )
    return pd.Series(numbers)


def _parse_numbers(series: pd.Series) -> np.ndarray:
    """Cells as float64, NaN where not a number.

    A vectorized cast (Arrow's, for text read from CSV: about 7× pandas'); the cells are
    parsed one by one only when some cell does not cast, so every cell is read as
    Python's `float()` would read it (" 3 " and "1_000" too, which Arrow refuses).
    """
    dtype = series.dtype
    if ptypes.is_datetime64_any_dtype(dtype) or ptypes.is_timedelta64_dtype(dtype):
        # pandas would read a date as its nanoseconds since 1970: a date is no number.
        return np.full(len(series), np.nan)
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        try:
            cast = pc.cast(pa.array(series.array), pa.float64())
            parsed: np.ndarray = cast.to_numpy(zero_copy_only=False)
            return parsed
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    try:
        return series.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _rows_mask(length: int, rows: np.ndarray) -> np.ndarray:
    mask = np.zeros(length, dtype=bool)
    mask[rows] = True
    return mask


def _convert(series: pd.Series, spec: ColumnSpec, out: _ProblemCollector) -> pd.Series | None:
    if spec.role == Role.NUMERIC:
        return _convert_numeric(series, spec, out)
    text, missing = _as_text(series)
    if spec.role == Role.CATEGORICAL:
        assert spec.categorical is not None
        allowed = ", ".join(spec.categorical.categories)
        out.add_rows(missing, spec.name, "value is missing; categorical features must be filled")
        if spec.categorical.integer_codes:
            # Integer codes stay integers ("3", "3.0" and " 3 " are all 3).
            numbers = _parse_numbers(text.where(~missing, None))
            known = np.isin(numbers, [float(c) for c in spec.categorical.categories])
            codes: pd.Series = pd.Series(np.where(known, numbers, 0).astype(np.int64))
        else:
            known = text.isin(spec.categorical.categories).to_numpy()
            codes = text
        out.add_rows(
            ~missing & ~known,
            spec.name,
            f"unknown category (allowed: {allowed}); map it to an allowed value or ask the "
            "consortium to extend the task schema's vocabulary",
        )
        return codes
    if spec.role == Role.LABEL:
        codes = _integer_text(text)
        positive, negative = codes == spec.positive, codes == spec.negative
        not_binary = ~missing & ~(positive | negative).to_numpy()
        out.add_rows(missing, spec.name, "label is missing")
        out.add_rows(
            not_binary,
            spec.name,
            f"label is not binary: expected {spec.positive} (event) or {spec.negative} (no event)",
        )
        return positive.astype("int64")
    if spec.role == Role.CONSENT:
        codes = _integer_text(text)
        granted = codes.isin(spec.granted).to_numpy()
        known = granted | codes.isin(spec.refused).to_numpy()
        out.add_rows(missing, spec.name, "consent value is missing")
        allowed = ", ".join([*spec.granted, *spec.refused])
        out.add_rows(
            ~missing & ~known, spec.name, f"unrecognised consent value (allowed: {allowed})"
        )
        return pd.Series(granted, index=series.index)
    if spec.role == Role.CUSTOMER_KEY:
        out.add_rows(missing, spec.name, "customer key is missing")
        return text
    if spec.role == Role.DIRECT_IDENTIFIER:
        if spec.action == "pseudonymize":
            out.add_rows(missing, spec.name, "value is missing (its pseudonym is needed)")
        return text
    if spec.role == Role.QUASI_IDENTIFIER:
        return _convert_quasi_identifier(text, missing, spec, out)
    if spec.role == Role.FREE_TEXT:
        return text
    return None


def _convert_quasi_identifier(
    text: pd.Series, missing: np.ndarray, spec: ColumnSpec, out: _ProblemCollector
) -> pd.Series:
    out.add_rows(missing, spec.name, "quasi-identifier value is missing")
    rule = spec.generalize
    if rule is not None and rule.band is not None:
        numbers = pd.to_numeric(text.where(~missing, None), errors="coerce").astype("float64")
        out.add_rows(
            ~missing & numbers.isna().to_numpy(), spec.name, "wrong type: expected a number"
        )
        return numbers
    if rule is not None and rule.date_level is not None:
        dates = pd.to_datetime(text.where(~missing, None), errors="coerce", format="ISO8601")
        out.add_rows(
            ~missing & dates.isna().to_numpy(), spec.name, "not a date (expected YYYY-MM-DD)"
        )
        return dates
    return text
