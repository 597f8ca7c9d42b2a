"""The values a field can take where a condition holds: to find conditions that never hold.

A comparison of a field with a literal restricts the field: `AGE < 20` to (-inf, 20),
`PAY_0 >= 2` to the codes 2…8, `pd > 1` to nothing (pd lies in [0, 1]). `and` intersects
these restrictions, `or` joins them (an interval's hull: a superset, so the check stays
sound: a condition found empty can truly never hold; some that cannot are not found).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fedscore.decisions.fields import FieldType

_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def flip(symbol: str) -> str:
    """The comparison with its sides swapped (`3 < AGE` is `AGE > 3`)."""
    return _FLIPPED[symbol]


@dataclass(frozen=True)
class Domain:
    """A set of values: a finite set (categories, `in` lists) or an interval.

    Attributes:
        values: the members of a finite set; None for an interval.
        low, high: the interval's ends (for a finite set: unused).
        low_open, high_open: whether the ends are left out.
    """

    values: frozenset[float] | None = None
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    @property
    def empty(self) -> bool:
        if self.values is not None:
            return not self.values
        if self.low < self.high:
            return False
        return self.low > self.high or self.low_open or self.high_open

    def contains(self, value: float) -> bool:
        if self.values is not None:
            return value in self.values
        above = value > self.low or (value == self.low and not self.low_open)
        below = value < self.high or (value == self.high and not self.high_open)
        return above and below

    def intersect(self, other: Domain) -> Domain:
        if self.values is not None or other.values is not None:
            finite, rest = (self, other) if self.values is not None else (other, self)
            assert finite.values is not None
            return Domain(frozenset(v for v in finite.values if rest.contains(v)))
        low, low_open = max((self.low, self.low_open), (other.low, other.low_open))
        high, high_open = min((self.high, not self.high_open), (other.high, not other.high_open))
        return Domain(None, low, high, low_open, not high_open)

    def union(self, other: Domain) -> Domain:
        if self.values is not None and other.values is not None:
            return Domain(self.values | other.values)
        a, b = self.hull(), other.hull()
        low, low_open = min((a.low, a.low_open), (b.low, b.low_open))
        high, high_closed = max((a.high, not a.high_open), (b.high, not b.high_open))
        return Domain(None, low, high, low_open, not high_closed)

    def hull(self) -> Domain:
        """The smallest interval holding this set."""
        if self.values is None:
            return self
        if not self.values:
            return Domain(None, math.inf, -math.inf)
        return Domain(None, min(self.values), max(self.values))


def base_domain(kind: FieldType) -> Domain:
    """Every value a field can take: a category's codes, or the number's bounds."""
    if kind.is_category:
        codes = [kind.code(value) for value in kind.vocabulary]
        return Domain(frozenset(code for code in codes if code is not None))
    return Domain(None, kind.low, kind.high)


def restrict(kind: FieldType, symbol: str, value: float | bool | tuple[float, ...]) -> Domain:
    """The values of a field for which `field <symbol> value` holds.

    Args:
        kind: the field's type.
        symbol: "<", "<=", ">", ">=", "==", "!=" or "in" (value then a tuple).
        value: the literal (a category's code already).
    """
    full = base_domain(kind)
    if symbol == "in":
        assert isinstance(value, tuple)
        return full.intersect(Domain(frozenset(value)))
    number = float(value)  # type: ignore[arg-type]
    bounds = {
        "<": Domain(None, -math.inf, number, high_open=True),
        "<=": Domain(None, -math.inf, number),
        ">": Domain(None, number, math.inf, low_open=True),
        ">=": Domain(None, number, math.inf),
        "==": Domain(frozenset({number})),
    }
    return full.intersect(bounds[symbol]) if symbol in bounds else full
