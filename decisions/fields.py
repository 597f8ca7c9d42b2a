"""What rules may name: the task's features and the model's outputs, each with its type.

A rule is checked against these types when a strategy is loaded, and evaluated over
columns of numbers: a numeric feature is its value, an integer-coded category its code
(`PAY_0` = 2.0), a text category or the grade its position in the vocabulary. `RuleFields`
also turns a validated request, or a table's columns, into those numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fedscore.core.schema import TaskSchema
from fedscore.scoring.record import finite_number

if TYPE_CHECKING:
    import pyarrow as pa

#: The model outputs rules may name: probability of default, score points, final grade.
PD, SCORE, GRADE = "pd", "score", "grade"


@dataclass(frozen=True)
class FieldType:
    """The type of one name rules may use.

    Attributes:
        name: the field (a feature of the task, or pd, score, grade).
        vocabulary: the allowed values of a category (() for a number): numbers for an
            integer-coded category, text otherwise.
        low, high: what a number can be at most (pd lies in [0, 1]); infinite when
            unbounded. A numeric feature's agreed bounds only clip its encoding: a raw
            value may lie outside them.
    """

    name: str
    vocabulary: tuple[float | str, ...] = ()
    low: float = -math.inf
    high: float = math.inf

    @property
    def is_category(self) -> bool:
        return bool(self.vocabulary)

    @property
    def ordered(self) -> bool:
        """Whether `<`, `>`… apply: numbers and integer-coded categories (codes are ordinal)."""
        return not self.vocabulary or isinstance(self.vocabulary[0], float)

    @property
    def allowed(self) -> str:
        """The vocabulary as messages show it ("0, 1, 2" or "'A', 'B'")."""
        return ", ".join(_show(value) for value in self.vocabulary)

    @property
    def describe(self) -> str:
        return f"a category ({self.allowed})" if self.is_category else "a number"

    def code(self, literal: float | str) -> float | None:
        """The column value of a category literal (its code or position); None if unknown."""
        if not self.vocabulary:
            return None
        if self.ordered:
            return float(literal) if literal in self.vocabulary else None
        return float(self.vocabulary.index(literal)) if literal in self.vocabulary else None


def _show(value: float | str) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


class RuleFields:
    """The names rules may use, typed from the task schema and the grade names.

    Args:
        schema: the task the model was trained under.
        grades: the grade names of the scoring configuration, best first.
    """

    def __init__(self, schema: TaskSchema, grades: tuple[str, ...]) -> None:
        types: dict[str, FieldType] = {}
        for spec in schema.features:
            if spec.categorical is None:
                types[spec.name] = FieldType(spec.name)
            elif spec.categorical.integer_codes:
                codes = tuple(float(c) for c in spec.categorical.categories)
                types[spec.name] = FieldType(spec.name, codes)
            else:
                types[spec.name] = FieldType(spec.name, spec.categorical.categories)
        types[PD] = FieldType(PD, low=0.0, high=1.0)
        types[SCORE] = FieldType(SCORE)
        types[GRADE] = FieldType(GRADE, grades)
        self.types = types
        self.grades = grades

    def record(self, fields: Mapping[str, object], names: frozenset[str]) -> dict[str, np.ndarray]:
        """One validated request's fields as one-element columns (only `names`).

        Args:
            fields: feature → value, already validated by the scorer (`Scorer.score_record`).
            names: the features the strategy's rules use.
        """
        columns: dict[str, np.ndarray] = {}
        for name in names:
            kind = self.types[name]
            value = fields[name]
            if kind.is_category and not kind.ordered:
                text = value.strip() if isinstance(value, str) else str(value)
                number = kind.code(text)
            else:
                number = finite_number(value)
            columns[name] = np.array([number], dtype=np.float64)
        return columns

    def table(
        self, columns: Mapping[str, np.ndarray] | pa.Table, names: frozenset[str]
    ) -> dict[str, np.ndarray]:
        """A table's columns (arrays, or a pyarrow Table) as float64 columns (only `names`).

        Integer-coded categories and numbers are read as numbers; a text category becomes its
        vocabulary position (-1 when not in it), each distinct value looked up once.

        Args:
            columns: feature → array of raw values, or a `pyarrow.Table` holding them.
            names: the features the strategy's rules use.
        """
        out: dict[str, np.ndarray] = {}
        for name in names:
            raw = columns[name] if isinstance(columns, Mapping) else _arrow_column(columns, name)
            values = np.asarray(raw)
            kind = self.types[name]
            if kind.is_category and not kind.ordered:
                uniques, inverse = np.unique(values.astype(str), return_inverse=True)
                positions = np.array([kind.code(str(u).strip()) for u in uniques], dtype=np.float64)
                out[name] = np.nan_to_num(positions, nan=-1.0)[inverse]
            else:
                out[name] = values.astype(np.float64, copy=False)
        return out


def _arrow_column(table: pa.Table, name: str) -> np.ndarray:
    """One column of a pyarrow Table as numpy (nulls become NaN for numbers)."""
    result: np.ndarray = table.column(name).to_numpy()
    return result
