"""A decision strategy file (TOML) read into strict, typed models.

`decisions/strategies/default.toml` is the bundled strategy of the default_risk task
(documented line by line); `docs/decisions.md` is the reference. The file is read with
`fedscore.core.typed_config.parse_section` (a misspelt key, a wrong type, a non-finite
number: one `ConfigError` naming the file and the key path); what depends on the model
(the fields rules may use, the grade names) is checked when it is compiled
(`fedscore.decisions.compile`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from fedscore.core.documents import read_toml
from fedscore.core.typed_config import SAFE_NAME_PATTERN, StrictSection, parse_section

#: What a hard rule does to an application it fires on.
HardOutcome = Literal["decline", "refer"]
#: Reason codes: short upper-case codes ("H01", "LATE_2M").
REASON_PATTERN = r"^[A-Z0-9][A-Z0-9_.-]{0,31}$"


class StrategyInfo(StrictSection):
    """`[strategy]`: which strategy this is.

    Attributes:
        name: the strategy's name (a file-name-safe word).
        version: its version, recorded in every decision ("2026.11-1").
        task: the task whose model it decides with (its schema's name).
        description: what it is for.
    """

    name: str = Field(pattern=SAFE_NAME_PATTERN)
    version: str = Field(pattern=SAFE_NAME_PATTERN)
    task: str = Field(min_length=1)
    description: str = ""


class RuleBase(StrictSection):
    """What every rule has, in a strategy or a monitoring rule file.

    Attributes:
        name: the rule's name, listed in every decision (or customer) it fires on.
        when: the condition (see the rule grammar), over the task's features and pd, score,
            grade (the grade by score, before any rule).
        reason: the reason code listed when the rule fires.
        description: what it means, in words.
    """

    name: str = Field(pattern=SAFE_NAME_PATTERN)
    when: str = Field(min_length=1)
    reason: str = Field(pattern=REASON_PATTERN)
    description: str = ""


class HardRule(RuleBase):
    """`[[hard_rules]]`, a strong rule: checked in order; the first that fires decides.

    Attributes:
        name, when, reason, description: as for every rule (`RuleBase`).
        outcome: "decline" or "refer" (manual review).
        grade: a grade the application is put in when the rule fires ("D"); None keeps it.
    """

    outcome: HardOutcome = "decline"
    grade: str | None = None


class SoftRule(RuleBase):
    """`[[soft_rules]]`, a weak rule: a flag that caps the grade and/or refers for review.

    Attributes:
        name, when, reason, description: as for every rule (`RuleBase`).
        cap_grade: the best grade an application it fires on may keep ("C").
        refer: whether it routes an application that would be approved to manual review.
    """

    cap_grade: str | None = None
    refer: bool = False

    @model_validator(mode="after")
    def _does_something(self) -> SoftRule:
        if self.cap_grade is None and not self.refer:
            raise ValueError("a soft rule needs cap_grade, refer = true, or both")
        return self


class Cutoffs(StrictSection):
    """`[cutoffs]`: the decision by score, for applications no hard rule decided.

    Attributes:
        approve_min_score: score points from which an application is approved.
        refer_min_score: score points from which one below `approve_min_score` is referred
            to manual review; below it, declined.
        decline_grades: final grades (after rules) that are declined whatever the score.
    """

    approve_min_score: float
    refer_min_score: float
    decline_grades: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> Cutoffs:
        if self.refer_min_score > self.approve_min_score:
            raise ValueError("refer_min_score must not exceed approve_min_score")
        return self


class LimitConfig(StrictSection):
    """`[limit]`: the amount range offered.

    maximum = base × multiplier[grade], at most `product_max`, rounded down to `step`;
    minimum = maximum × `min_share` rounded down to `step`, at least `product_min`. An
    application that would be approved with a maximum below `product_min` is declined
    (reason `below_minimum_reason`).

    Attributes:
        base: an expression giving a number ("LIMIT_BAL * (1 - pd)").
        multiplier: grade → factor of the base (every grade once).
        min_share: the minimum amount's share of the maximum, in (0, 1].
        step: the product's amount step (amounts are multiples of it).
        product_min, product_max: the product's smallest and largest amounts.
        below_minimum_reason: the reason code of a maximum below the product's minimum.
    """

    base: str = Field(min_length=1)
    multiplier: dict[str, float]
    min_share: float = Field(gt=0, le=1)
    step: float = Field(gt=0)
    product_min: float = Field(ge=0)
    product_max: float = Field(gt=0)
    below_minimum_reason: str = Field(default="LIMIT_BELOW_MINIMUM", pattern=REASON_PATTERN)

    @model_validator(mode="after")
    def _ordered(self) -> LimitConfig:
        if self.product_min > self.product_max:
            raise ValueError("product_min must not exceed product_max")
        if any(factor < 0 for factor in self.multiplier.values()):
            raise ValueError("multipliers must be 0 or more")
        return self


class PricingTier(StrictSection):
    """`[[pricing]]`: one price tier, for the final grades it lists.

    Attributes:
        tier: the tier's name ("prime").
        grades: the final grades priced by this tier (every grade in exactly one tier).
        annual_rate: the annual interest rate (0.0899 for 8.99 %).
        instalments: the numbers of monthly instalments offered, ascending.
    """

    tier: str = Field(pattern=SAFE_NAME_PATTERN)
    grades: list[str] = Field(min_length=1)
    annual_rate: float = Field(ge=0, le=1)
    instalments: list[int] = Field(min_length=1)

    @model_validator(mode="after")
    def _ascending(self) -> PricingTier:
        if any(n < 1 for n in self.instalments) or self.instalments != sorted(
            set(self.instalments)
        ):
            raise ValueError("instalments must be distinct positive numbers, ascending")
        return self


class ChallengerConfig(StrictSection):
    """`[challenger]`: a share of applications decided by another strategy.

    Attributes:
        strategy: the challenger's strategy file name, in this file's folder ("b.toml").
        share: the share of applications it decides, in (0, 1).
        salt: mixed into the hash of the application id, so that a new test draws a new
            split (a word, never personal data).
    """

    strategy: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\.toml$")
    share: float = Field(gt=0, lt=1)
    salt: str = Field(pattern=SAFE_NAME_PATTERN)


class StrategyDocument(StrictSection):
    """A whole strategy file.

    Attributes:
        strategy: which strategy it is (`[strategy]`).
        cutoffs: the decision by score (`[cutoffs]`).
        hard_rules: strong rules, in order (`[[hard_rules]]`).
        soft_rules: weak rules (`[[soft_rules]]`).
        limit: the amount range (`[limit]`).
        pricing: the price tiers (`[[pricing]]`).
        challenger: the champion/challenger split (`[challenger]`), None for none.
    """

    strategy: StrategyInfo
    cutoffs: Cutoffs
    hard_rules: list[HardRule] = Field(default_factory=list)
    soft_rules: list[SoftRule] = Field(default_factory=list)
    limit: LimitConfig
    pricing: list[PricingTier] = Field(min_length=1)
    challenger: ChallengerConfig | None = None


def read_strategy(path: Path) -> StrategyDocument:
    """Read and type-check a strategy file (not yet against a model: see `compile`).

    Args:
        path: the TOML file.

    Raises:
        ConfigError: unreadable, not TOML, or a key or type problem (file and key path).
    """
    return parse_section(StrategyDocument, read_toml(path, "decision strategy"), path)
