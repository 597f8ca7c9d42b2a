"""`[[derived]]` entries: features computed row by row from declared columns.

The entry's `kind` picks its model, so a ratio's `op` or a count's `numerator` is an
error. Whether the sources are numeric feature columns is checked by the document.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Annotated, Literal

from pydantic import Field

from fedscore.core.schema.fields import Name, NumericRules, members_by_tag
from fedscore.core.schema.model import CountOperator, DerivedFeature


class _Derived(NumericRules):
    """Keys every derived feature has (and the encoding keys of `NumericRules`).

    Attributes:
        name: the feature's name (it must not clash with a column's).
        kind: how the feature is computed; it picks the entry's model.
    """

    name: Name
    kind: str

    @abstractmethod
    def sources(self) -> list[str]:
        """The columns the feature is computed from."""

    @abstractmethod
    def feature(self) -> DerivedFeature:
        """The feature as the encoder reads it."""


class RatioEntry(_Derived):
    """`kind = "ratio"`: numerator / max(denominator, floor).

    Attributes:
        numerator, denominator: numeric feature columns.
        floor: the smallest divisor (> 0), so the ratio never divides by zero.
    """

    described_as = "a ratio feature"
    kind: Literal["ratio"]
    numerator: Name
    denominator: Name
    floor: float = Field(default=1.0, gt=0)

    def sources(self) -> list[str]:
        return [self.numerator, self.denominator]

    def feature(self) -> DerivedFeature:
        return DerivedFeature(
            self.name,
            self.kind,
            self.encoding(),
            numerator=self.numerator,
            denominator=self.denominator,
            floor=self.floor,
        )


class CountEntry(_Derived):
    """`kind = "count"`: how many of `columns` satisfy `op` `value`.

    Attributes:
        columns: numeric feature columns (or categorical ones with integer codes).
        op: the comparison, one of ">=", "<=", "==".
        value: what each column is compared with.
    """

    described_as = "a count feature"
    kind: Literal["count"]
    columns: list[Name] = Field(min_length=1)
    op: CountOperator = ">="
    value: float

    def sources(self) -> list[str]:
        return list(self.columns)

    def feature(self) -> DerivedFeature:
        return DerivedFeature(
            self.name,
            self.kind,
            self.encoding(),
            columns=tuple(self.columns),
            op=self.op,
            value=self.value,
        )


#: One `[[derived]]` entry; its `kind` picks the model.
DerivedEntry = Annotated[RatioEntry | CountEntry, Field(discriminator="kind")]

#: The model of each kind.
DERIVED_MODELS = members_by_tag(DerivedEntry, "kind")
