r"""Scanning tables for personal information, reporting counts and never values.

Texts, bytes and files: `text_scan`; matching many values at once: `joined_values`.

Columns are scanned by kind:

- integer and float columns: a vectorised range check keeps only the values with
  at least as many digits as some detector needs (`Detector.min_digits`, 11 for
  mobiles), so a typical numeric column costs two comparisons per value; only
  those candidates become strings and go through the detectors. Floats count
  only when integral. A float64 holds integers exactly up to 2**53 (about 9.0e15):
  18-digit resident IDs and most 17–19 digit card numbers read as floats have
  lost their last digits, so their check characters usually fail and they are
  missed. Read such columns as strings (`dtype=str`) to scan them.
- text (object, string) columns: the distinct values are joined with "\n" into
  one string that each detector's regex runs over once; matches are counted once
  per row holding the value. In a large column, a detector whose matches need a
  run of digits (`Detector.digit_run`: 11–15 for mobiles, 15–18 for resident IDs)
  runs only over the values holding one, when they are few; the runs are found
  by one vectorised pass. An e-mail search needs an "@" in the column.
- categorical columns: their categories, counted by how many rows hold each.
- boolean, date/time, period, interval and complex columns hold no text and are
  skipped.

The column name is the outer context of its values (see `Detector.spans`): a
UnionPay number failing Luhn counts as a card in a column named "卡号".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from fedscore.core.errors import row_reference
from fedscore.privacy.pii.joined_values import count_in_texts
from fedscore.privacy.pii.registry import Detector, resolve_detectors

# Scanning texts, bytes and files moved to `text_scan`; importable from here as before.
from fedscore.privacy.pii.text_scan import (
    mask_digests,
    png_text,
    scan_bytes,
    scan_file,
    scan_text,
)

__all__ = [
    "ColumnHit",
    "mask_digests",
    "png_text",
    "scan_bytes",
    "scan_file",
    "scan_frame",
    "scan_series",
    "scan_text",
]

_INT64_MAX = np.iinfo(np.int64).max
_UINT64_MAX = np.iinfo(np.uint64).max


@dataclass(frozen=True)
class ColumnHit:
    """Personal information found in one column: how much, never what.

    Attributes:
        column: the column's name (as a string).
        detector: the registry name of the detector that found it, e.g. "mobile".
        count: how many matches the column holds (a value holding two phone numbers
            counts twice).
        first_row: the 0-based position, in the scanned table, of the first value holding
            a match (where a message may point the user to); None where not looked up.
    """

    column: str
    detector: str
    count: int
    first_row: int | None = None

    def first_in(self, header_lines: int, rows: np.ndarray | None = None) -> str:
        """The first match's place, for a message: ", the first in row R (line L)" ("" if unknown).

        Args:
            header_lines: file lines before the first data row (0: rows are not lines).
            rows: the 1-based row in the file of each row of the scanned table; None when
                the table is the file's rows in order.
        """
        if self.first_row is None:
            return ""
        row = self.first_row + 1 if rows is None else int(rows[self.first_row])
        return f", the first in {row_reference(row, header_lines)}"


def scan_series(
    series: pd.Series,
    detectors: Iterable[Detector | str] | None = None,
    context: str | None = None,
) -> dict[str, int]:
    """How many matches of each detector one column holds; detectors without one are left out.

    Args:
        series: the column.
        detectors: detectors or registry names to run; None for all registered ones.
        context: outer context of the values (see `Detector.spans`); None for the
            series' name.
    """
    chosen = resolve_detectors(detectors)
    if context is None:
        context = "" if series.name is None else str(series.name)
    dtype = series.dtype
    if (
        ptypes.is_bool_dtype(dtype)
        or ptypes.is_datetime64_any_dtype(dtype)
        or ptypes.is_timedelta64_dtype(dtype)
        or ptypes.is_complex_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype | pd.IntervalDtype)
    ):
        return {}
    if isinstance(dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        weights = np.bincount(codes[codes >= 0], minlength=len(dtype.categories))
        present = np.flatnonzero(weights)
        texts = [_as_text(dtype.categories[int(i)]) for i in present]
        return count_in_texts(texts, weights[present], chosen, context)
    if ptypes.is_integer_dtype(dtype) or ptypes.is_float_dtype(dtype):
        return _count_in_numbers(series, chosen, context)
    return _count_in_text_column(series, chosen, context)


def scan_frame(
    frame: pd.DataFrame,
    columns: Iterable[str] | None = None,
    detectors: Iterable[Detector | str] | None = None,
) -> list[ColumnHit]:
    """Personal information in the columns of a table, as counts per column and detector.

    Returns one `ColumnHit` per (column, detector) with at least one match, in column
    order, then in the order of `detectors`.

    Args:
        frame: the table.
        columns: the columns to scan; None for all of them.
        detectors: detectors or registry names to run; None for all registered ones.

    Raises:
        KeyError: a column in `columns` is not in the table, or a detector name is
            not registered.
    """
    chosen = resolve_detectors(detectors)
    wanted: set[object] | None = None
    if columns is not None:
        wanted = {columns} if isinstance(columns, str) else set(columns)
        missing = wanted.difference(frame.columns)
        if missing:
            raise KeyError(f"columns not in the table: {sorted(map(str, missing))}")
    hits: list[ColumnHit] = []
    for name, series in frame.items():
        if wanted is not None and name not in wanted:
            continue
        counts = scan_series(series, chosen, context=str(name))
        hits.extend(
            ColumnHit(
                str(name),
                detector.name,
                counts[detector.name],
                _first_row(series, detector, str(name)),
            )
            for detector in chosen
            if counts.get(detector.name)
        )
    return hits


def _first_row(series: pd.Series, detector: Detector, context: str) -> int:
    """The 0-based position of the first value of `series` in which `detector` finds a match.

    The series must hold one. Halving the part known to hold it scans the column about
    once more, with the scan's own fast paths as the only detection code.
    """
    start, stop = 0, len(series)  # the first match lies in [start, stop)
    while stop - start > 1:
        middle = (start + stop) // 2
        if scan_series(series.iloc[start:middle], [detector], context).get(detector.name):
            stop = middle
        else:
            start = middle
    return start


def _as_text(value: object) -> str:
    """The text a detector sees for one cell; integral floats lose their ".0"."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="ignore")
    if isinstance(value, float | np.floating) and np.isfinite(value) and float(value) % 1 == 0:
        return str(int(value))
    return str(value)


def _count_in_numbers(
    series: pd.Series, detectors: Sequence[Detector], context: str
) -> dict[str, int]:
    """Counts in an integer or float column, validating only values with enough digits."""
    numeric = [d for d in detectors if d.min_digits is not None]
    fewest = min((d.min_digits for d in detectors if d.min_digits is not None), default=None)
    if fewest is None:
        return {}
    bound = 10 ** (fewest - 1) if fewest > 1 else 0  # the smallest number with `fewest` digits
    dtype = series.dtype
    if ptypes.is_integer_dtype(dtype):
        unsigned = ptypes.is_unsigned_integer_dtype(dtype)
        if bound > (_UINT64_MAX if unsigned else _INT64_MAX):
            return {}
        values = series.to_numpy() if isinstance(dtype, np.dtype) else series.dropna().to_numpy()
        values = values.astype(np.uint64 if unsigned else np.int64, copy=False)
        mask = values >= bound
        if not unsigned:
            mask |= values <= -bound
        texts = [str(v) for v in values[mask].tolist()]
    else:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            mask = np.abs(values) >= bound
            mask &= np.isfinite(values)
            mask &= np.floor(values) == values
        texts = [str(int(v)) for v in values[mask].tolist()]
    return count_in_texts(texts, None, numeric, context, prefilter=False)


def _count_in_text_column(
    series: pd.Series, detectors: Sequence[Detector], context: str
) -> dict[str, int]:
    """Counts in a column of text (or mixed objects), scanning each distinct value once."""
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts): scan every row
        return count_in_texts([_as_text(v) for v in series.dropna()], None, detectors, context)
    weights = np.bincount(codes[codes >= 0], minlength=len(uniques))
    # As a list first: iterating an Index of (Arrow-backed) strings is 20× slower.
    return count_in_texts([_as_text(v) for v in uniques.tolist()], weights, detectors, context)
