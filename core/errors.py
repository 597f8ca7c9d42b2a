"""Errors that tell the user what is wrong with their input and how to fix it.

Messages name the file, row and column of a problem but never the value of a
field, because any field of a customer table may be personal information.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from pathlib import Path


class FedscoreError(Exception):
    """Base class of every error fedscore raises on bad input or configuration."""


class SchemaError(FedscoreError):
    """The task schema file itself is malformed."""


class ConfigError(FedscoreError):
    """A run or node configuration is malformed or inconsistent."""


class TableReadError(FedscoreError):
    """A data file cannot be read at all (missing, empty, malformed, unknown format)."""


def row_reference(row: int, header_lines: int) -> str:
    """How a message points to a data row: "row 4 (line 5)".

    Args:
        row: the 1-based data row (header excluded).
        header_lines: file lines before the first data row; 0 where rows are not lines
            (Parquet, or a CSV with a line break inside a field): the row alone.
    """
    return f"row {row} (line {row + header_lines})" if header_lines else f"row {row}"


@dataclass(frozen=True)
class TableProblem:
    """One problem found while validating a table against the task schema.

    Attributes:
        row: 1-based data row (header excluded); None for problems of a whole column.
        column: the column the problem is in; None for problems of the whole table.
        problem: what is wrong, without the offending value.
    """

    row: int | None
    column: str | None
    problem: str

    def describe(self, source: str, header_lines: int) -> str:
        where = [source]
        if self.row is not None:
            where.append(row_reference(self.row, header_lines))
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.problem}"


class TableValidationError(FedscoreError):
    """A table does not match the task schema; nothing was trained on it.

    Attributes:
        source: the file the table came from.
        problems: the first problems found (at most `max_reported`).
        total: how many problems were found in all.
    """

    max_reported = 20

    def __init__(
        self, source: str | Path, problems: list[TableProblem], total: int, header_lines: int
    ) -> None:
        self.source = str(source)
        self.problems = problems
        self.total = total
        lines = [p.describe(self.source, header_lines) for p in problems]
        more = total - len(problems)
        if more > 0:
            lines.append(f"... and {more} more problem(s) of the same kinds")
        summary = f"{self.source} does not match the task schema ({total} problem(s)):"
        super().__init__("\n".join([summary, *("  - " + line for line in lines)]))


def describe_failure(error: BaseException) -> str:
    """What failed, without the values an unexpected error's text may hold.

    fedscore's own errors are written never to name a value of a customer's field; any
    other error (a library's, whose message may quote data) is named by its type and
    where it was raised only.
    """
    if isinstance(error, FedscoreError):
        return str(error)
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    where = f" in {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    return f"{type(error).__name__}{where}"


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: The longest reason kept from a party's error reply.
LONGEST_REASON = 500


def printable_reason(text: str) -> str:
    """A reason received from elsewhere, fit for a summary or a terminal.

    No terminal escapes or control characters, one line, at most `LONGEST_REASON` characters.
    """
    cleaned = _ANSI.sub("", text)
    cleaned = "".join(ch if ch.isprintable() else " " for ch in cleaned)
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= LONGEST_REASON else cleaned[: LONGEST_REASON - 1] + "…"
