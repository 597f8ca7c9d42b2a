"""Errors of a scoring request: which field is wrong and why, never the field's value."""

from __future__ import annotations

from dataclasses import dataclass

from fedscore.core.errors import FedscoreError


@dataclass(frozen=True)
class FieldProblem:
    """One problem of one field of a scoring request.

    Attributes:
        field: the request field (a feature name, or another key the request carried).
        problem: what is wrong, without the value.
    """

    field: str
    problem: str

    def describe(self) -> str:
        return f"field '{self.field}': {self.problem}"


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
        return [p.field for p in self.problems]
