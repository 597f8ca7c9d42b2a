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


#: The most problems one refusal lists. gRPC clients refuse replies whose metadata (the
#: error message and the `fedscore-fields` trailer) exceed 16 KiB: a request with a
#: thousand wrong fields still gets a refusal its sender can read.
MOST_PROBLEMS_LISTED = 20


class RequestError(FedscoreError):
    """A scoring request was refused; nothing was scored.

    Args:
        problems: every problem found, in field order (the first `MOST_PROBLEMS_LISTED`
            are kept and listed).
        message: what is wrong with the request as a whole, instead of the problems' list.

    Attributes:
        problems: the problems listed, in field order.
    """

    def __init__(self, problems: list[FieldProblem], message: str | None = None) -> None:
        self.problems = problems[:MOST_PROBLEMS_LISTED]
        if message is None:
            message = "; ".join(p.describe() for p in self.problems)
            unlisted = len(problems) - len(self.problems)
            if unlisted:
                message += f"; and {unlisted} more problem(s), not listed"
        super().__init__(message)

    @property
    def fields(self) -> list[str]:
        """The wrong fields as errors name them (see `FieldProblem.reference`)."""
        return list(dict.fromkeys(p.reference for p in self.problems))


class OutputWriteError(FedscoreError):
    """A scored book or its summary cannot be written; nothing was left behind."""
