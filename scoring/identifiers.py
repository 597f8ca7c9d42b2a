"""Refusing scoring input that carries a direct identifier.

A scoring request carries the model's features and nothing else. A field named like a
direct identifier of the task (name, resident ID, mobile, card number) is refused, and
every feature value is scanned with the PII detectors (`fedscore.privacy.pii`): a
resident ID, mobile, bank card, social credit code or e-mail typed into a feature
field (a mobile number is also "a finite number") is refused too. Messages name the
field and the kind of identifier, never the value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd

from fedscore.core.errors import TableReadError
from fedscore.core.schema import Role, TaskSchema
from fedscore.privacy.pii import Detector, resolve_detectors, scan_frame
from fedscore.scoring.errors import FieldProblem


class IdentifierGuard:
    """Finds direct identifiers in scoring input.

    Parameters
    ----------
    schema : TaskSchema
        The task: its direct-identifier columns are refused by name.
    detectors : Iterable[Detector | str] | None
        PII detectors (objects or registry names); None for every registered one.
    """

    def __init__(
        self, schema: TaskSchema, detectors: Iterable[Detector | str] | None = None
    ) -> None:
        self.identifier_columns = frozenset(c.name for c in schema.by_role(Role.DIRECT_IDENTIFIER))
        self.detectors = resolve_detectors(detectors)
        digits = [d.min_digits for d in self.detectors if d.min_digits is not None]
        # A number shorter than the shortest numeric identifier cannot be one.
        self.number_bound = 10 ** (min(digits) - 1) if digits else math.inf

    def field_problems(self, fields: Mapping[str, object]) -> list[FieldProblem]:
        """Problems of one request's fields: identifier names, identifiers in values."""
        problems = [
            FieldProblem(
                name,
                "is a direct identifier of the task; scoring requests must not carry "
                "direct identifiers",
            )
            for name in fields
            if name in self.identifier_columns
        ]
        for name, value in fields.items():
            if name in self.identifier_columns:
                continue
            kind = self.identifier_in(name, value)
            if kind is not None:
                problems.append(
                    FieldProblem(
                        name,
                        f"holds a direct identifier (detected as {kind}); a feature field "
                        "must not carry personal identifiers",
                    )
                )
        return problems

    def identifier_in(self, field: str, value: object) -> str | None:
        """The detector name of an identifier found in one value, or None."""
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, int | float):
            if not math.isfinite(value) or abs(value) < self.number_bound or value % 1:
                return None
            text = str(int(value))
        elif isinstance(value, str):
            text = value  # each detector's own pre-filter rejects short or plain text cheaply
        else:
            text = str(value)
        for detector in self.detectors:
            if detector.count(text, context=field):
                return detector.name
        return None

    def check_table(self, frame: pd.DataFrame, columns: list[str], source: str) -> None:
        """Refuse a chunk of a book whose feature columns hold identifiers.

        Raises:
            TableReadError: naming the file, column, kind of identifier and count.
        """
        hits = scan_frame(frame, columns, self.detectors)
        if hits:
            found = "; ".join(
                f"column '{hit.column}' holds {hit.count} value(s) detected as {hit.detector}"
                for hit in hits
            )
            raise TableReadError(
                f"{source}: {found}: a feature column must not carry direct identifiers; "
                "nothing was scored"
            )
