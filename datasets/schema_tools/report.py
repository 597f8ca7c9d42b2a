"""What a check found: problems (the schema or the table cannot be used) and notes.

Every line names the file, and where it applies the row and column; none holds the value
of a cell, since any cell of a customer table may be personal information.
"""

from __future__ import annotations

from dataclasses import dataclass

from fedscore.core.errors import TableProblem
from fedscore.core.validation import ProblemRows

#: How many rows of one problem a line lists before "and N more".
ROWS_LISTED = 10


@dataclass(frozen=True)
class CheckReport:
    """The outcome of a check.

    Attributes:
        problems: what must change before the schema or the table can be used.
        notes: what the user should know (where consent and keys come from, values a node
            will clip, the k-anonymity a sample reaches); never a reason to fail.
    """

    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether nothing must change."""
        return not self.problems

    def __add__(self, other: CheckReport) -> CheckReport:
        return CheckReport(self.problems + other.problems, self.notes + other.notes)


def describe_rows(found: ProblemRows, source: str, header_lines: int) -> str:
    """One line for a problem and every row it is in, the first `ROWS_LISTED` named.

    Args:
        found: the problem and its rows.
        source: the file, named first.
        header_lines: file lines before the first data row (0 when rows are not lines).
    """
    if len(found.rows) <= 1:
        row = found.rows[0] if found.rows else None
        return TableProblem(row, found.column, found.problem).describe(source, header_lines)
    listed = ", ".join(str(row) for row in found.rows[:ROWS_LISTED])
    more = len(found.rows) - ROWS_LISTED
    rows = f"{len(found.rows)} rows ({listed}{f' and {more} more' if more > 0 else ''}"
    rows += f"; line = row + {header_lines})" if header_lines else ")"
    where = [source, rows]
    if found.column is not None:
        where.append(f"column '{found.column}'")
    return f"{', '.join(where)}: {found.problem}"
