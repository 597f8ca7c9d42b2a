"""What a decision is: one application's `Decision`, and many applications' arrays."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fedscore.scoring.reasons import Reason


@dataclass(frozen=True)
class StrategyArrays:
    """One strategy's decisions of many rows (codes and numbers, no Python objects).

    Attributes:
        outcome: APPROVE, REFER or DECLINE per row (`rules.OUTCOMES`).
        grade: the final grade index (after rules).
        limit_min, limit_max: the amount range (0 where declined or below the minimum).
        tier: the price tier index (-1 where declined).
        annual_rate: the tier's annual rate (NaN where declined).
        fired: (rows × rules) whether each rule fired (`CompiledStrategy.rule_names`).
    """

    outcome: np.ndarray
    grade: np.ndarray
    limit_min: np.ndarray
    limit_max: np.ndarray
    tier: np.ndarray
    annual_rate: np.ndarray
    fired: np.ndarray


@dataclass(frozen=True)
class Decision:
    """One application's decision.

    Attributes:
        application_id: the caller's application id, echoed ("" for none).
        outcome: "approve", "refer" (manual review) or "decline".
        grade: the final grade (after hard and soft rules).
        score_grade: the grade by score alone.
        action: the scoring configuration's action of the final grade.
        probability_of_default, score: the model's PD and score points.
        limit_min, limit_max: the amount range offered (0 when declined).
        pricing_tier: the price tier ("" when declined).
        annual_rate: its annual rate (None when declined).
        instalments: the numbers of monthly instalments offered (() when declined).
        fired_rules: every rule that fired: hard rules in order, soft rules, then the
            cut-offs that decided the outcome (score, declined grade, limit below minimum).
        reason_codes: the fired rules' reason codes, in the same order, without repeats.
        model_reasons: the model's reason codes (features that lowered the score).
        model_version: the registered model version.
        strategy, strategy_version: the strategy that decided, and its version.
        arm: "champion" or "challenger".
    """

    application_id: str
    outcome: str
    grade: str
    score_grade: str
    action: str
    probability_of_default: float
    score: float
    limit_min: float
    limit_max: float
    pricing_tier: str
    annual_rate: float | None
    instalments: tuple[int, ...]
    fired_rules: tuple[str, ...]
    reason_codes: tuple[str, ...]
    model_reasons: tuple[Reason, ...]
    model_version: str
    strategy: str
    strategy_version: str
    arm: str

    def as_dict(self) -> dict[str, Any]:
        """The decision as JSON-ready values."""
        return asdict(self)


@dataclass(frozen=True)
class DecisionArrays(StrategyArrays):
    """Decisions of many applications, as arrays (for the batch engine and Arrow output).

    Rows decided by the challenger take its strategy's values; `fired` holds the champion's
    rule columns, then the challenger's (`rule_names`, `rule_reasons`).

    The arrays of `StrategyArrays` (`tier` indexes `tier_names`; `fired` has the rule
    columns of both arms), and:

    Attributes:
        arm: CHAMPION or CHALLENGER per row (`split.ARMS`).
        rule_names, rule_reasons: the columns of `fired` and their reason codes.
        tier_names: the champion's tiers, then the challenger's.
        strategy_versions: "name@version" of the champion and the challenger ("" if none).
    """

    arm: np.ndarray
    rule_names: tuple[str, ...]
    rule_reasons: tuple[str, ...]
    tier_names: tuple[str, ...]
    strategy_versions: tuple[str, str]

    def __len__(self) -> int:
        return len(self.outcome)
