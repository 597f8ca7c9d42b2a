"""Scanning tables, texts and bytes for personal information, reporting counts and never values.

Columns are scanned by kind:

- integer and float columns: a vectorised range check keeps only the values with
  at least as many digits as some detector needs (`Detector.min_digits`, 11 for
  mobiles), so a typical numeric column costs two comparisons per value; only
  those candidates become strings and go through the detectors. Floats count
  only when integral. A float64 holds integers exactly up to 2**53 (about 9.0e15):
  18-digit resident IDs and most 17–19 digit card numbers read as floats have
  lost their last digits, so their check characters usually fail and they are
  missed. Read such columns as strings (`dtype=str`) to scan them.
- text (object, string) columns: the distinct values are joined with "\\n" into
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

import re
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from fedscore.privacy.pii.registry import Detector, resolve_detectors

_INT64_MAX = np.iinfo(np.int64).max
_UINT64_MAX = np.iinfo(np.uint64).max
#: Joined values at least this long are first searched for digit runs (`Detector.digit_run`).
_PREFILTER_MIN_CHARS = 1 << 16
#: ... and a detector runs over the values holding a run only when they are this share or less.
_PREFILTER_MAX_SHARE = 0.5


@dataclass(frozen=True)
class ColumnHit:
    """Personal information found in one column: how much, never what.

    Attributes:
        column: the column's name (as a string).
        detector: the registry name of the detector that found it, e.g. "mobile".
        count: how many matches the column holds (a value holding two phone numbers
            counts twice).
    """

    column: str
    detector: str
    count: int


# A run of 32+ hexadecimal characters with at least one letter is a digest (SHA-256,
# pseudonym, key id), not an identifier: a SHA-256 in hex holds a run of 11 decimal
# digits starting 13–19 about once in 300 hashes, which would read as a mobile number.
_HEX_DIGEST = re.compile(r"(?<![0-9A-Za-z])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{32,}(?![0-9A-Za-z])")


def mask_digests(text: str) -> str:
    """`text` with every hexadecimal digest replaced by as many "#" (offsets unchanged)."""
    return _HEX_DIGEST.sub(lambda match: "#" * len(match.group()), text)


def scan_text(text: str, detectors: Iterable[Detector | str] | None = None) -> dict[str, int]:
    """How many matches of each detector a text holds; detectors without a match are left out.

    Hexadecimal digests are skipped (see `mask_digests`).

    Args:
        text: any text, e.g. a message or a decoded file.
        detectors: detectors or registry names to run; None for all registered ones.
    """
    text = mask_digests(text)
    counts: dict[str, int] = {}
    for detector in resolve_detectors(detectors):
        found = detector.count(text)
        if found:
            counts[detector.name] = found
    return counts


def scan_bytes(
    data: bytes,
    detectors: Iterable[Detector | str] | None = None,
    encoding: str = "utf-8",
) -> dict[str, int]:
    """`scan_text` of raw bytes (a file, a message), decoded leniently.

    Args:
        data: the bytes.
        detectors: detectors or registry names to run; None for all registered ones.
        encoding: how the bytes are encoded; undecodable bytes are dropped. Pass
            "gb18030" for GBK/GB 18030 files: decoded as UTF-8, their Chinese keywords
            are lost (digits and e-mail addresses survive).
    """
    return scan_text(bytes(data).decode(encoding, errors="ignore"), detectors)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_text(data: bytes) -> str:
    """The text a PNG image carries: its tEXt, zTXt and iTXt chunks, one per line.

    The pixel data is compressed and holds no text; searching it with the detectors
    finds random look-alikes (an "x@y.ab" turns up in about one plot in a few
    hundred), so it is left out.

    Args:
        data: the whole PNG file.

    Raises:
        ValueError: `data` is not a well-formed PNG file.
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG file (signature missing)")
    texts: list[str] = []
    offset = len(_PNG_SIGNATURE)
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if len(body) != length:
            raise ValueError(f"PNG chunk {kind!r} at byte {offset} is truncated")
        if kind == b"tEXt":
            texts.append(body.decode("latin-1"))
        elif kind == b"zTXt":
            keyword, _, rest = body.partition(b"\0")
            texts.append(
                keyword.decode("latin-1") + "\0" + zlib.decompress(rest[1:]).decode("latin-1")
            )
        elif kind == b"iTXt":
            keyword, _, rest = body.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _language, _, rest = rest.partition(b"\0")
            _translated, _, text = rest.partition(b"\0")
            if compressed:
                text = zlib.decompress(text)
            texts.append(keyword.decode("latin-1") + "\0" + text.decode("utf-8", errors="ignore"))
        offset += 12 + length
    return "\n".join(texts)


def scan_file(
    path: Path | str, detectors: Iterable[Detector | str] | None = None
) -> dict[str, int]:
    """`scan_bytes` of a file's contents; of a PNG image, only the text it carries (`png_text`).

    Args:
        path: the file.
        detectors: detectors or registry names to run; None for all registered ones.
    """
    data = Path(path).read_bytes()
    if data.startswith(_PNG_SIGNATURE):
        return scan_text(png_text(data), detectors)
    return scan_bytes(data, detectors)


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
        texts = [_as_text(dtype.categories[i]) for i in present]
        return _count_in_texts(texts, weights[present], chosen, context)
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
            ColumnHit(str(name), detector.name, counts[detector.name])
            for detector in chosen
            if counts.get(detector.name)
        )
    return hits


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
    return _count_in_texts(texts, None, numeric, context, prefilter=False)


def _count_in_text_column(
    series: pd.Series, detectors: Sequence[Detector], context: str
) -> dict[str, int]:
    """Counts in a column of text (or mixed objects), scanning each distinct value once."""
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts): scan every row
        return _count_in_texts([_as_text(v) for v in series.dropna()], None, detectors, context)
    weights = np.bincount(codes[codes >= 0], minlength=len(uniques))
    return _count_in_texts([_as_text(v) for v in uniques], weights, detectors, context)


def _count_in_texts(
    texts: list[str],
    weights: np.ndarray | None,
    detectors: Sequence[Detector],
    context: str,
    prefilter: bool = True,
) -> dict[str, int]:
    """Counts over values joined by "\\n"; a match in texts[i] counts weights[i] (or 1) times.

    Args:
        texts: the values.
        weights: how many rows hold each value; None for one each.
        detectors: the detectors to run.
        context: outer context of every value (the column name).
        prefilter: in a large text, run a detector with a `digit_run` only over the values
            holding such a run of digits (found once, vectorised), when that leaves out
            most values. Useless when every value is a number.
    """
    if not texts:
        return {}
    if weights is None:
        weights = np.ones(len(texts), dtype=np.int64)
    blob = "\n".join(texts)
    starts = _starts(texts)
    prefilter = prefilter and len(blob) >= _PREFILTER_MIN_CHARS
    runs: tuple[np.ndarray, np.ndarray] | None = None  # (value index, length) of digit runs
    counts: dict[str, int] = {}
    for detector in detectors:
        if detector.required_text and detector.required_text not in blob:
            continue
        if prefilter and detector.digit_run is not None:
            if runs is None:
                runs = _digit_runs(blob, starts)
            shortest, longest = detector.digit_run
            values, lengths = runs
            holders = np.unique(values[(lengths >= shortest) & (lengths <= longest)])
            if holders.size <= _PREFILTER_MAX_SHARE * len(texts):
                if holders.size:
                    held = [texts[i] for i in holders.tolist()]
                    found = _count_matches(
                        "\n".join(held), _starts(held), weights[holders], detector, context
                    )
                    if found:
                        counts[detector.name] = found
                continue
        found = _count_matches(blob, starts, weights, detector, context)
        if found:
            counts[detector.name] = found
    return counts


def _starts(texts: list[str]) -> np.ndarray:
    """Where each value starts once the values are joined by one-character separators."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1
    return np.cumsum(lengths) - lengths


def _count_matches(
    blob: str, starts: np.ndarray, weights: np.ndarray, detector: Detector, context: str
) -> int:
    """Weighted number of `detector`'s matches in values joined by "\\n".

    Args:
        blob: the joined values.
        starts: where each value starts in `blob`.
        weights: how many rows hold each value.
        detector: the detector to run.
        context: outer context of every value.
    """
    positions = np.fromiter((start for start, _ in detector.spans(blob, context)), dtype=np.int64)
    if positions.size == 0:
        return 0
    return int(weights[np.searchsorted(starts, positions, side="right") - 1].sum())


def _digit_runs(blob: str, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value index, length) of every maximal run of ASCII digits in `blob`.

    Args:
        blob: values joined by "\\n".
        starts: where each value starts in `blob`.
    """
    # One byte per character: every non-ASCII character becomes one "?".
    codes = np.frombuffer(blob.encode("ascii", errors="replace"), dtype=np.uint8)
    is_digit = (codes - np.uint8(48)) < 10  # wraps around below "0"
    edges = np.diff(is_digit.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    run_starts = np.flatnonzero(edges == 1)
    lengths = np.flatnonzero(edges == -1) - run_starts
    return np.searchsorted(starts, run_starts, side="right") - 1, lengths
