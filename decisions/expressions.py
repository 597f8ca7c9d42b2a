"""A checked rule expression: its type, its closure over numpy, what it needs of its fields.

`fedscore.decisions.grammar` builds these from a strategy file's text; here is what one
is, and how the parts of `and` / `or` combine their constant values and the values they
leave each field (`fedscore.decisions.domains`), from which a condition that can never hold
is found.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from fedscore.decisions.domains import Domain
from fedscore.decisions.fields import FieldType

Columns = Mapping[str, np.ndarray]
#: An expression's closure: columns → array or scalar (numpy operators throughout).
Run = Callable[[Columns], Any]
#: A binary operator over numbers or arrays.
Binary = Callable[[Any, Any], Any]


class Kind(Enum):
    """The type of an expression."""

    NUMBER = "a number"
    CONDITION = "a condition"
    TEXT = "text"


class ExpressionError(ValueError):
    """An expression is not valid; `column` is the 1-based position in its text."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class Expression:
    """A checked expression, ready to run over columns of numbers.

    Attributes:
        text: the expression as written.
        kind: its type.
        run: columns → array (or a constant); a closure over numpy operators.
        constant: its value when it depends on no field (None otherwise).
        names: the fields it reads.
        domains: for a condition, field → values the field must take for it to hold.
        field_type: the field's type when the expression is a bare name.
        literal: a text or number literal's value (resolved against a category).
    """

    text: str
    kind: Kind
    run: Run
    constant: float | bool | None = None
    names: frozenset[str] = frozenset()
    domains: Mapping[str, Domain] = field(default_factory=dict)
    field_type: FieldType | None = None
    literal: float | str | None = None

    @property
    def never_true(self) -> bool:
        """Whether this condition provably never holds."""
        return self.constant is False or any(d.empty for d in self.domains.values())

    @property
    def always_true(self) -> bool:
        return self.constant is True

    def evaluate(self, columns: Columns, rows: int) -> np.ndarray:
        """The value for every row (`rows` of them).

        A division by zero gives an infinity or NaN (a comparison with NaN is false); run it
        under `np.errstate(divide="ignore", invalid="ignore")` to keep numpy quiet.
        """
        value = np.asarray(self.run(columns))
        return value if value.shape == (rows,) else np.broadcast_to(value, (rows,))


def error_at(node: object, message: str) -> ExpressionError:
    """An `ExpressionError` at an `ast` node's position (1-based column)."""
    return ExpressionError(message, getattr(node, "col_offset", 0) + 1)


def fold(run: Run, parts: list[Expression]) -> float | bool | None:
    """The constant value of an expression whose parts are all constant, else None."""
    if all(part.constant is not None for part in parts):
        with np.errstate(divide="ignore", invalid="ignore"):
            value = run({})
        return bool(value) if isinstance(value, bool | np.bool_) else float(value)
    return None


def conjunction(parts: list[Expression]) -> dict[str, Domain]:
    """A field's values where every part holds: the intersection of what each part needs."""
    domains: dict[str, Domain] = {}
    for part in parts:
        for name, domain in part.domains.items():
            domains[name] = domains[name].intersect(domain) if name in domains else domain
    return domains


def disjunction(parts: list[Expression]) -> dict[str, Domain]:
    """A field's values where some part holds (only fields every possible part constrains)."""
    possible = [part for part in parts if not part.never_true]
    if not possible:
        return {name: domain for part in parts for name, domain in part.domains.items()}
    shared = set.intersection(*(set(part.domains) for part in possible))
    return {
        name: functools.reduce(Domain.union, (part.domains[name] for part in possible))
        for name in shared
    }
