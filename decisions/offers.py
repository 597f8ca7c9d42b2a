"""Limits and prices: the amount range and the price tier of every application, as arrays."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fedscore.decisions.expressions import Expression, ExpressionError, Kind
from fedscore.decisions.fields import FieldType
from fedscore.decisions.grammar import parse_expression
from fedscore.decisions.strategy import LimitConfig, PricingTier

#: Amounts are rounded down to the step after adding this share of a step, so that a
#: product like 0.8 × 15000 (11999.999…) lands on 12000.
_ROUNDING_SLACK = 1e-9


@dataclass(frozen=True)
class LimitPlan:
    """How the amount range is computed.

    Attributes:
        base: the base amount's expression.
        multiplier: the factor of each grade (by grade index).
        config: the `[limit]` settings (step, product bounds, share, reason).
    """

    base: Expression
    multiplier: np.ndarray
    config: LimitConfig

    def amounts(
        self, columns: Mapping[str, np.ndarray], grade: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The minimum and maximum amounts, and where the maximum is below the product's minimum.

        Args:
            columns: the rule inputs (features and model outputs) as float64 columns.
            grade: the final grade index of each application.

        Returns:
            (minimum, maximum, below_minimum); both amounts are 0 where below_minimum.
        """
        c = self.config
        raw = self.base.evaluate(columns, len(grade)) * self.multiplier[grade]
        capped = np.nan_to_num(np.minimum(raw, c.product_max), nan=0.0, neginf=0.0)
        maximum = np.maximum(np.floor(capped / c.step + _ROUNDING_SLACK) * c.step, 0.0)
        below = maximum < c.product_min
        share = np.floor(maximum * c.min_share / c.step + _ROUNDING_SLACK) * c.step
        minimum = np.maximum(share, c.product_min)
        return np.where(below, 0.0, minimum), np.where(below, 0.0, maximum), below


@dataclass(frozen=True)
class PricingPlan:
    """The price tier of each grade.

    Attributes:
        tiers: the configured tiers, in file order.
        tier_of_grade: the tier index of each grade index.
    """

    tiers: tuple[PricingTier, ...]
    tier_of_grade: np.ndarray

    @property
    def names(self) -> list[str]:
        return [tier.tier for tier in self.tiers]

    def rates(self, tier: np.ndarray) -> np.ndarray:
        """The annual rate of each tier index (NaN where -1: no offer)."""
        table = np.array([t.annual_rate for t in self.tiers] + [np.nan], dtype=np.float64)
        rates: np.ndarray = table[tier]
        return rates


def compile_limit(
    config: LimitConfig, fields: Mapping[str, FieldType], grades: tuple[str, ...]
) -> tuple[LimitPlan | None, list[str]]:
    """The limit plan, or the problems that stop it (each "[limit] key: why").

    Args:
        config: the `[limit]` settings.
        fields: the names expressions may use.
        grades: the grade names, best first.
    """
    problems = _grade_keys("[limit] multiplier", list(config.multiplier), grades, once=True)
    base = None
    try:
        base = parse_expression(config.base, fields)
        if base.kind is not Kind.NUMBER or (base.field_type and base.field_type.is_category):
            problems.append("[limit] base, column 1: must give a number (an amount)")
    except ExpressionError as error:
        problems.append(f"[limit] base, column {error.column}: {error}")
    if problems or base is None:
        return None, problems
    multiplier = np.array([config.multiplier[g] for g in grades], dtype=np.float64)
    return LimitPlan(base, multiplier, config), []


def compile_pricing(
    tiers: list[PricingTier], grades: tuple[str, ...]
) -> tuple[PricingPlan | None, list[str]]:
    """The pricing plan, or its problems: every grade must be in exactly one tier.

    Args:
        tiers: the `[[pricing]]` tiers.
        grades: the grade names, best first.
    """
    listed = [grade for tier in tiers for grade in tier.grades]
    problems = _grade_keys("[[pricing]] grades", listed, grades, once=True)
    names = [tier.tier for tier in tiers]
    if len(set(names)) != len(names):
        problems.append("[[pricing]] tier: tier names must be distinct")
    if problems:
        return None, problems
    tier_of = {grade: i for i, tier in enumerate(tiers) for grade in tier.grades}
    return PricingPlan(tuple(tiers), np.array([tier_of[g] for g in grades], dtype=np.int8)), []


def _grade_keys(where: str, listed: list[str], grades: tuple[str, ...], once: bool) -> list[str]:
    """Problems of grade names listed in a setting: unknown, missing or repeated ones."""
    problems = []
    unknown = sorted(set(listed) - set(grades))
    if unknown:
        problems.append(f"{where}: unknown grade(s) {unknown} (grades: {list(grades)})")
    if once:
        missing = [g for g in grades if g not in listed]
        repeated = sorted({g for g in listed if listed.count(g) > 1})
        if missing:
            problems.append(f"{where}: every grade needs one entry (missing: {missing})")
        if repeated:
            problems.append(f"{where}: grade(s) {repeated} listed more than once")
    return problems
