"""Refusing scoring input that carries a direct identifier, and never echoing one.

A scoring request carries the model's features and nothing else. A field named like a
direct identifier of the task (name, resident ID, mobile, card number) is refused, and
every value is checked with the PII detectors (`fedscore.privacy.pii`): a resident ID,
mobile, bank card, social credit code or e-mail typed into a field is refused too,
whatever its wire type:

- text is searched as it is; numeric text is also read as the number it spells;
- an integral number is checked by its digits. A double holds every integer only up to
  2**53 (16 digits): beyond, the digits a sender typed may have been rounded away on
  the wire (110105194912310021 arrives as 110105194912310016), so every integer the
  number may have been is checked. A 17-digit number whose resident-ID check character
  is "X" is checked as that ID: a number cannot carry the "X".

Messages name the field and the kind of identifier, never the value. A field name that
is not the task's own is shown only when it is short printable ASCII that no detector
flags; any other is withheld and the field named by its position among the request's
field names in sorted order ("field #3").
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Iterator, Mapping

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from fedscore.core.errors import TableReadError
from fedscore.core.schema import Role, TaskSchema
from fedscore.privacy.pii import ColumnHit, Detector, resolve_detectors, scan_frame
from fedscore.privacy.pii.resident_id import resident_id_check_char
from fedscore.privacy.pii.scanner import mask_digests
from fedscore.scoring.errors import FieldProblem

#: The largest magnitude up to which a double holds every integer exactly.
EXACT_INTEGERS = 2**53
#: The longest field name an error may show (longer ones are withheld).
LONGEST_SHOWN_NAME = 64
#: Characters a shown field name may hold: printable ASCII without the comma that
#: separates names in the `fedscore-fields` trailer.
_SHOWABLE = frozenset(chr(code) for code in range(0x20, 0x7F)) - {","}
#: Digits of a resident ID without its check character.
_ID_BODY_DIGITS = 17

FEATURE_RULE = "a feature column must not carry direct identifiers; nothing was scored"
#: The longest correlation id accepted (a request_id, an application_id): it is echoed.
LONGEST_CORRELATION_ID = 128


class IdentifierGuard:
    """Finds direct identifiers in scoring input.

    Args:
        schema: The task: its direct-identifier columns are refused by name, and its column
            names are the field names errors may always show.
        detectors: PII detectors (objects or registry names); None for every registered one.
    """

    def __init__(
        self, schema: TaskSchema, detectors: Iterable[Detector | str] | None = None
    ) -> None:
        self.identifier_columns = frozenset(c.name for c in schema.by_role(Role.DIRECT_IDENTIFIER))
        self.task_columns = frozenset(c.name for c in schema.columns)
        self.detectors = resolve_detectors(detectors)
        self._numeric = [d for d in self.detectors if d.min_digits is not None]
        # A number shorter than the shortest numeric identifier cannot be one, nor one
        # longer than the longest (its digits would be one longer run).
        shortest = min(
            (d.min_digits for d in self.detectors if d.min_digits is not None), default=None
        )
        longest = max((d.digit_run[1] for d in self._numeric if d.digit_run), default=0)
        self.number_bound = 10 ** (shortest - 1) if shortest else math.inf
        self.number_limit = 10 ** max(longest, _ID_BODY_DIGITS)

    # -- one request ----------------------------------------------------------------

    def field_problems(self, fields: Mapping[str, object]) -> list[FieldProblem]:
        """Problems of one request's fields.

        Identifier names, names that cannot be shown, identifiers in values.

        Args:
            fields: field name → value, as the request carried them.
        """
        problems: list[FieldProblem] = []
        for name, value in fields.items():
            if name in self.identifier_columns:
                problems.append(
                    FieldProblem(
                        name,
                        "is a direct identifier of the task; scoring requests must not carry "
                        "direct identifiers",
                    )
                )
                continue
            withheld = None if self.can_show(name) else sorted(fields).index(name) + 1
            if withheld is not None:
                problems.append(FieldProblem(name, self._withheld_name_problem(name), withheld))
            kind = self.identifier_in(name, value)
            if kind is not None:
                problems.append(
                    FieldProblem(
                        name,
                        f"holds a direct identifier (detected as {kind}); a feature field "
                        "must not carry personal identifiers",
                        withheld,
                    )
                )
        return problems

    def can_show(self, name: str) -> bool:
        """Whether an error may show this field name.

        It may when the name is one of the task's columns, or short printable ASCII in which no
        detector finds an identifier.
        """
        if name in self.task_columns:
            return True
        return (
            len(name) <= LONGEST_SHOWN_NAME
            and _SHOWABLE.issuperset(name)
            and self.identifier_in("", name) is None
        )

    def _withheld_name_problem(self, name: str) -> str:
        kind = self.identifier_in("", name)
        why = (
            f"holds a direct identifier (detected as {kind})"
            if kind is not None
            else f"is not up to {LONGEST_SHOWN_NAME} printable ASCII characters without commas"
        )
        return f"is not a feature of the model, and its name {why}; send only the model's features"

    # -- one value ------------------------------------------------------------------

    def identifier_in(self, field: str, value: object) -> str | None:
        """The detector name of an identifier found in one value, or None.

        Args:
            field: the value's field name: context for detectors (a card number after
                "卡号"), "" for none.
            value: a number, text, or anything else (checked as its text).
        """
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, int | float):
            return self._in_number(field, value)
        text = value if isinstance(value, str) else str(value)
        for detector in self.detectors:
            if detector.count(text, context=field):
                return detector.name
        number = _spelt_number(text)
        return self._in_number(field, number) if number is not None else None

    def _in_number(self, field: str, number: int | float) -> str | None:
        span = self._integers(number)
        if not span:
            return None
        digits = range(len(str(span[0])), len(str(span[-1])) + 1)
        for detector in self._numeric:
            fewest, most = detector.digit_run or (0, math.inf)
            if digits[-1] < fewest or digits[0] > most:
                continue
            if any(detector.count(text, context=field) for text in _readings(span)):
                return detector.name
        return None

    def _integers(self, number: int | float) -> range:
        """The integers (magnitudes) an integral number may stand for.

        Empty when it is not integral or has too few or too many digits to hold an identifier.
        """
        if isinstance(number, float) and not (math.isfinite(number) and number.is_integer()):
            return range(0)
        magnitude = abs(number)
        if not self.number_bound <= magnitude < self.number_limit:
            return range(0)
        exact = int(magnitude)
        if isinstance(number, int) or magnitude <= EXACT_INTEGERS:
            return range(exact, exact + 1)
        # Every integer within half a step of the neighbouring doubles rounds to this one.
        below = exact - int(math.nextafter(magnitude, 0.0))
        above = int(math.nextafter(magnitude, math.inf)) - exact
        return range(exact - below // 2, exact + above // 2 + 1)

    # -- tables ---------------------------------------------------------------------

    def check_table(
        self,
        frame: pd.DataFrame,
        columns: list[str],
        source: str,
        rule: str = FEATURE_RULE,
        rows: np.ndarray | None = None,
        header_lines: int = 0,
    ) -> None:
        """Refuse a chunk of a book whose `columns` hold identifiers.

        Args:
            frame: the chunk as read.
            columns: the columns to check.
            source: the file (named in the error).
            rule: why such a column is refused, stated in the error.
            rows: the 1-based row in the file of each of the frame's rows; None when the
                frame is the file's first rows.
            header_lines: file lines before the first data row (0: rows are not lines).

        Raises:
            TableReadError: naming the file, column, kind of identifier, count and the
                first row holding one.
        """
        numeric = [c for c in columns if _is_number_column(frame[c])]
        hits = scan_frame(frame, [c for c in columns if c not in numeric], self.detectors)
        hits += [hit for column in numeric for hit in self._number_hits(frame[column])]
        if hits:
            order = {column: i for i, column in enumerate(columns)}
            found = "; ".join(
                f"column '{hit.column}' holds {hit.count} value(s) detected as {hit.detector}"
                + hit.first_in(header_lines, rows)
                for hit in sorted(hits, key=lambda hit: order[hit.column])
            )
            raise TableReadError(f"{source}: {found}: {rule}")

    def _number_hits(self, column: pd.Series) -> list[ColumnHit]:
        """Identifiers in a numeric column, checked as `identifier_in` checks a number."""
        present = column.notna().to_numpy()
        values = column[present].to_numpy()
        with np.errstate(invalid="ignore"):
            magnitude = np.abs(values.astype(np.float64))
        candidate = (magnitude >= self.number_bound) & (magnitude < self.number_limit)
        positions = np.flatnonzero(present)[candidate].tolist()
        found: collections.Counter[str | None] = collections.Counter()
        first: dict[str | None, int] = {}
        for position, value in zip(positions, values[candidate].tolist(), strict=True):
            kind = self._in_number(str(column.name), value)
            found[kind] += 1
            first.setdefault(kind, position)
        return [
            ColumnHit(str(column.name), detector.name, found[detector.name], first[detector.name])
            for detector in self._numeric
            if found[detector.name]
        ]


def correlation_id_problem(value: str, guard: IdentifierGuard) -> str | None:
    """Why a caller's correlation id cannot be accepted (and so never echoed), or None.

    A correlation id (a request_id, an application_id) is at most
    `LONGEST_CORRELATION_ID` printable ASCII characters in which no detector finds a direct
    identifier: a UUID or a sequence number, never a customer's identifier.

    Args:
        value: the id as sent ("" for none).
        guard: the identifier checks of the served task.
    """
    if len(value) > LONGEST_CORRELATION_ID or not (value.isascii() and value.isprintable()):
        return f"must be at most {LONGEST_CORRELATION_ID} printable ASCII characters (not shown)"
    # A digest (a hashed id) holds long digit runs that are no identifier.
    kind = guard.identifier_in("", mask_digests(value))
    if kind is not None:
        return (
            f"holds a direct identifier (detected as {kind}; not shown); a "
            "correlation id must not identify a customer"
        )
    return None


def _readings(integers: range) -> Iterator[str]:
    """The texts detectors judge for these integers: their digits, and the "X" reading.

    For 17 digits whose resident-ID check character is "X", that ID is judged too (a number cannot
    carry the "X").
    """
    for integer in integers:
        text = str(integer)
        yield text
        if len(text) == _ID_BODY_DIGITS and resident_id_check_char(text) == "X":
            yield text + "X"


def _is_number_column(column: pd.Series) -> bool:
    return ptypes.is_numeric_dtype(column.dtype) and not ptypes.is_bool_dtype(column.dtype)


def _spelt_number(text: str) -> int | float | None:
    """The number a text spells ("13912345678", "1.39e10"), exactly where it is an integer.

    None for other text.
    """
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        return float(stripped)
    except ValueError:
        return None
