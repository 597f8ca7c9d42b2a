"""Errors of scoring: which field is wrong and why, never the field's value.

Also the error of an output that cannot be written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fedscore.core.errors import FedscoreError


@dataclass(frozen=True)
class FieldProblem:
    """One problem of one field of a scoring request.

    Attributes:
        field: the request field as sent (a feature name, or another key the request
            carried); shown only when `position` is None.
        problem: what is wrong, without the value.
        position: set when the field's name must not be shown (it holds an identifier,
            or is too long or not printable): the field's 1-based position among the
            request's field names in sorted order, by which errors name it instead.
    """

    field: str = field(repr=False)
    problem: str
    position: int | None = None

    @property
    def reference(self) -> str:
        """How errors and the `fedscore-fields` trailer name the field.

        Its name, or "#N" when the name is withheld.
        """
        return self.field if self.position is None else f"#{self.position}"

    def describe(self) -> str:
        if self.position is None:
            return f"field '{self.field}': {self.problem}"
        return (
            f"field #{self.position} (name withheld; fields counted in the sorted order of "
            f"their names): {self.problem}"
        )


class RequestError(FedscoreError):
    """A scoring request was refused; nothing was scored.

    Attributes:
        problems: every problem found, in field order.
    """

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.describe() for p in problems))

    @property
    def fields(self) -> list[str]:
        """The wrong fields as errors name them (see `FieldProblem.reference`)."""
        return list(dict.fromkeys(p.reference for p in self.problems))


class OutputWriteError(FedscoreError):
    """A scored book or its summary cannot be written; nothing was left behind."""
