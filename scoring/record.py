"""One customer's fields → validated, encoded feature vector, without pandas (the fast path).

A single request must be answered in well under a millisecond, which a one-row
DataFrame through `validate_frame` and `FeatureEncoder` (several milliseconds) cannot
do. `RecordEncoder` applies the same rules compiled from the same task schema:

- validation as `fedscore.core.validation` (same problems, same words): a numeric
  feature must be a finite number (numbers or numeric text; a NaN or infinity is a
  wrong value, not a missing one), a categorical feature one of its vocabulary
  (integer codes accept "3", "3.0", 3), nothing may be missing (absent, None, blank);
- encoding as `fedscore.core.encoding.FeatureEncoder`: banding of generalized
  quasi-identifiers, clipping to the agreed bounds, transform, scaling to [0, 1],
  bins, one-hot levels, derived ratios and counts.

`tests/test_scoring_semantics.py` checks that both paths give the same vector for every
customer of a real table and the same verdict for bad values.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from fedscore.core.encoding import FeatureEncoder, numeric_names
from fedscore.core.schema import (
    ColumnSpec,
    DerivedFeature,
    NumericEncoding,
    Role,
    TaskSchema,
    Transform,
)
from fedscore.scoring.errors import FieldProblem, RequestError

_SCALAR_TRANSFORMS: dict[Transform, Callable[[float], float]] = {
    Transform.IDENTITY: lambda x: x,
    Transform.LOG1P: math.log1p,
    Transform.SIGNED_LOG1P: lambda x: math.copysign(math.log1p(abs(x)), x),
}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
}
MISSING_NUMERIC = "value is missing; numeric features must be filled"
WRONG_TYPE = "wrong type: expected a finite number"
MISSING_CATEGORY = "value is missing; categorical features must be filled"


def scoring_schema(schema: TaskSchema) -> TaskSchema:
    """The task schema as scoring input must meet it: the label becomes optional.

    Customers being scored have no outcome yet; a book that carries one (a back-test)
    still has it validated.
    """
    return dataclasses.replace(
        schema,
        columns=tuple(
            dataclasses.replace(c, required=False) if c.role == Role.LABEL else c
            for c in schema.columns
        ),
    )


@dataclass(frozen=True)
class _NumericSlot:
    """Writes one numeric value's columns (scaled value and/or bins) from `column` on."""

    column: int
    encoding: NumericEncoding
    band: float | None

    @functools.cached_property
    def _scale(self) -> tuple[Callable[[float], float], float, float]:
        """The transform and the transformed bounds (fixed per feature)."""
        enc = self.encoding
        transform = _SCALAR_TRANSFORMS[enc.transform]
        return transform, transform(enc.min), transform(enc.max)

    def write(self, value: float, out: np.ndarray) -> None:
        enc = self.encoding
        if self.band is not None:
            value = math.floor(value / self.band) * self.band + self.band / 2
        clipped = min(max(value, enc.min), enc.max)
        column = self.column
        if enc.scaled:
            transform, low, high = self._scale
            out[column] = (transform(clipped) - low) / (high - low)
            column += 1
        if enc.bins:
            out[column + bisect.bisect_right(enc.bins, clipped)] = 1.0


def finite_number(value: object) -> float | None:
    """A finite float from a number or numeric text; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _is_missing(value: object) -> bool:
    """Whether a field is left empty (absent, None or blank text).

    A NaN is not a missing value here: a record leaves a value out to say it is missing,
    so a NaN sent as a number is a number that is not finite, refused as such (in a
    table, pandas reads an empty cell as NaN, and `validate_frame` calls it missing).
    """
    return value is None or (isinstance(value, str) and not value.strip())


class RecordEncoder:
    """Validates and encodes one customer at a time with the task schema's rules.

    Args:
        schema: The task the model was trained under.
    """

    def __init__(self, schema: TaskSchema) -> None:
        self.schema = schema
        self.n_features = FeatureEncoder(schema).n_features
        self.feature_names = tuple(spec.name for spec in schema.features)
        self._numeric: dict[str, _NumericSlot] = {}
        self._categorical: dict[str, tuple[ColumnSpec, dict[object, int]]] = {}
        column = 0
        for spec in schema.features:
            if spec.numeric is not None:
                band = spec.generalize.band if spec.generalize is not None else None
                self._numeric[spec.name] = _NumericSlot(column, spec.numeric, band)
                column += len(numeric_names(spec.name, spec.numeric))
            else:
                assert spec.categorical is not None
                index: dict[object, int] = {}
                for level, (_, members) in enumerate(spec.categorical.levels()):
                    for member in members:
                        key = float(member) if spec.categorical.integer_codes else member
                        index[key] = column + level
                self._categorical[spec.name] = (spec, index)
                column += len(spec.categorical.levels())
        self._derived: list[tuple[DerivedFeature, _NumericSlot]] = []
        for derived in schema.derived:
            self._derived.append((derived, _NumericSlot(column, derived.encoding, None)))
            column += len(numeric_names(derived.name, derived.encoding))
        assert column == self.n_features

    def encode(self, fields: Mapping[str, object]) -> np.ndarray:
        """The encoded vector (float32) of one customer's feature fields.

        Args:
            fields: feature name → value (a number, or text as a file would hold it).

        Raises:
            RequestError: naming every missing, mistyped or unknown-category field.
        """
        out = np.zeros(self.n_features, dtype=np.float32)
        problems: list[FieldProblem] = []
        values: dict[str, float] = {}
        for name in self.feature_names:
            value = fields.get(name)
            if name in self._numeric:
                if _is_missing(value):
                    problems.append(FieldProblem(name, MISSING_NUMERIC))
                    continue
                number = finite_number(value)
                if number is None:
                    problems.append(FieldProblem(name, WRONG_TYPE))
                    continue
                values[name] = number
                self._numeric[name].write(number, out)
            else:
                spec, index = self._categorical[name]
                if _is_missing(value):
                    problems.append(FieldProblem(name, MISSING_CATEGORY))
                    continue
                assert spec.categorical is not None
                key: object
                code: float | None = None  # the category's integer code, as a number
                if spec.categorical.integer_codes:
                    key = code = finite_number(value)
                else:
                    key = value.strip() if isinstance(value, str) else str(value)
                column = index.get(key)
                if column is None:
                    allowed = ", ".join(spec.categorical.categories)
                    problems.append(
                        FieldProblem(
                            name,
                            f"unknown category (allowed: {allowed}); map it to an allowed "
                            "value or ask the consortium to extend the task schema's vocabulary",
                        )
                    )
                    continue
                if code is not None:
                    values[name] = code
                out[column] = 1.0
        if problems:
            raise RequestError(problems)
        for derived, slot in self._derived:
            slot.write(self._derive(derived, values), out)
        return out

    @staticmethod
    def _derive(derived: DerivedFeature, values: dict[str, float]) -> float:
        if derived.kind == "ratio":
            assert derived.numerator is not None and derived.denominator is not None
            return values[derived.numerator] / max(values[derived.denominator], derived.floor)
        compare = _COMPARE[derived.op]
        return float(sum(compare(values[c], derived.value) for c in derived.columns))
