"""Which rows of an Arrow chunk could hold a direct identifier, found without Python per row.

`IdentifierGuard.check_table` scans pandas columns: text through every PII detector,
numbers by their digits. Over a whole book that costs more than scoring it, while
almost no row is a candidate. Here each column is first narrowed, in Arrow and NumPy,
to the rows that can hold a match; only those rows go to the guard, so the verdict
and the counts in its error are the same as for the whole chunk:

- a number can only be an identifier with as many digits as the shortest numeric
  identifier, and fewer than the longest (`IdentifierGuard.number_bound`, `number_limit`);
- a text can only hold a detector's match if it is at least as long as the pattern's
  shortest match, holds the detector's required text (the "@" of an e-mail), and the
  pattern without its lookaround assertions (which only narrow matches) matches in it:
  searched with Arrow's regex engine (RE2), on the rows long enough only. A detector
  whose pattern RE2 cannot run, and a column of another type, leave every row (long
  enough) a candidate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fedscore.privacy.pii import Detector
from fedscore.scoring.identifiers import FEATURE_RULE, IdentifierGuard

_LOOKAROUNDS = ("(?=", "(?!", "(?<=", "(?<!")


def _matches(result: pa.Array) -> np.ndarray:
    found: np.ndarray = result.fill_null(False).to_numpy(zero_copy_only=False)
    return found


def without_lookarounds(pattern: str) -> str:
    """A regex's text with its lookaround assertions removed (a pattern matching more).

    Args:
        pattern: the regex text (Python syntax).
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if pattern[i] == "[":
            end = _class_end(pattern, i)
            out.append(pattern[i:end])
            i = end
            continue
        if pattern.startswith(_LOOKAROUNDS, i):
            i = _group_end(pattern, i)
            continue
        out.append(pattern[i])
        i += 1
    return "".join(out)


def _class_end(pattern: str, start: int) -> int:
    """The index after the character class opening at `start`."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def _group_end(pattern: str, start: int) -> int:
    """The index after the group opening at `start` (nested groups and classes skipped)."""
    depth, i = 0, start
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _class_end(pattern, i)
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        i += 1
        if depth == 0:
            return i
    return i


@dataclass(frozen=True)
class _TextFilter:
    """What a text must have for one detector's pattern to match in it.

    Attributes:
        shortest: the fewest characters a match spans.
        required: a substring every match holds ("" for none).
        pattern: the pattern without lookarounds, for RE2; None when RE2 cannot run it.
    """

    shortest: int
    required: str
    pattern: str | None


def _text_filter(detector: Detector) -> _TextFilter:
    pattern: str | None = without_lookarounds(detector.pattern.pattern)
    try:
        pc.match_substring_regex(pa.array([""]), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pattern = None
    try:  # the shortest match of the Python pattern (lookarounds span nothing)
        parsed = re._parser.parse(detector.pattern.pattern, detector.pattern.flags)  # type: ignore[attr-defined]
        shortest = int(parsed.getwidth()[0])
    except (AttributeError, re.error, TypeError, ValueError):
        shortest = 0
    return _TextFilter(shortest, detector.required_text, pattern)


class CandidateRows:
    """Finds the rows of a chunk's columns that could hold a direct identifier.

    Args:
        guard: The scorer's identifier guard (its detectors and number range).
    """

    def __init__(self, guard: IdentifierGuard) -> None:
        self.guard = guard
        self._filters = [_text_filter(d) for d in guard.detectors]

    def rows(self, column: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """A mask of the rows of `column` that could hold an identifier."""
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        kind = column.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind):
            values = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
            with np.errstate(invalid="ignore"):
                magnitude = np.abs(values)
            # Integers beyond 2**53 round to doubles: compare with a margin, never miss one.
            mask: np.ndarray = (magnitude >= self.guard.number_bound * (1 - 1e-9)) & (
                magnitude < self.guard.number_limit * (1 + 1e-9)
            )
            return mask
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            return np.ones(len(column), dtype=bool)
        lengths = pc.utf8_length(column).fill_null(0).to_numpy(zero_copy_only=False)
        found = np.zeros(len(column), dtype=bool)
        for text in self._filters:
            rows = np.flatnonzero((lengths >= text.shortest) & ~found)
            if rows.size == 0:
                continue
            subset = column if rows.size == len(column) else column.take(pa.array(rows))
            hit = np.ones(rows.size, dtype=bool)
            if text.required:
                hit &= _matches(pc.match_substring(subset, text.required))
            if text.pattern is not None and hit.any():
                hit &= _matches(pc.match_substring_regex(subset, text.pattern))
            found[rows[hit]] = True
        return found

    def check(
        self,
        batch: pa.RecordBatch,
        columns: list[str],
        source: str,
        rule: str = FEATURE_RULE,
        first_row: int = 1,
        header_lines: int = 0,
    ) -> None:
        """Refuse a chunk whose `columns` hold identifiers, as `IdentifierGuard.check_table`.

        Args:
            batch: the chunk as read.
            columns: the columns to check.
            source: the file (named in the error).
            rule: why such a column is refused.
            first_row: the 1-based row number of the chunk's first row in the file.
            header_lines: file lines before the first data row (0: rows are not lines).

        Raises:
            TableReadError: naming the file, column, kind of identifier, count and the
                first row holding one.
        """
        if not columns:
            return
        mask = np.zeros(batch.num_rows, dtype=bool)
        for name in columns:
            mask |= np.asarray(self.rows(batch.column(name)), dtype=bool)
        if not mask.any():
            return
        suspects = batch.select(columns).filter(pa.array(mask)).to_pandas()
        rows = np.flatnonzero(mask) + first_row
        self.guard.check_table(suspects, columns, source, rule, rows, header_lines)
