"""A strategy compiled against a model: rules, cut-offs, limits and prices as array code.

`load_strategy` reads a strategy file (and its challenger's), checks it against the
model's fields and grades, and reports every problem at once, each naming the file, the
table, the rule and the position (`ConfigError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fedscore.core.errors import ConfigError
from fedscore.decisions.fields import GRADE, PD, SCORE, RuleFields
from fedscore.decisions.offers import LimitPlan, PricingPlan, compile_limit, compile_pricing
from fedscore.decisions.record import StrategyArrays
from fedscore.decisions.rules import APPROVE, DECLINE, NONE, REFER, RuleSet, compile_rules
from fedscore.decisions.split import Split
from fedscore.decisions.strategy import Cutoffs, StrategyDocument, StrategyInfo, read_strategy

#: Outcomes that are not rules of the file, recorded like rules when they apply.
SCORE_REFER, SCORE_DECLINE = "score_below_approve_min", "score_below_refer_min"
GRADE_DECLINE, LIMIT_DECLINE = "declined_grade", "limit_below_product_min"
#: Their reason codes (the limit's is configured: `[limit] below_minimum_reason`).
SYSTEM_REASONS = {
    SCORE_REFER: "SCORE_REFER",
    SCORE_DECLINE: "SCORE_DECLINE",
    GRADE_DECLINE: "GRADE_DECLINE",
}


@dataclass(frozen=True)
class CompiledStrategy:
    """One strategy, ready to decide.

    Attributes:
        info: its name, version and task.
        rules: the hard and soft rules.
        cutoffs: the score cut-offs and declined grades.
        declined_grade: whether each grade index is declined.
        limit: the amount range.
        pricing: the price tiers.
    """

    info: StrategyInfo
    rules: RuleSet
    cutoffs: Cutoffs
    declined_grade: np.ndarray
    limit: LimitPlan
    pricing: PricingPlan

    @property
    def names(self) -> frozenset[str]:
        """The features (not model outputs) its rules and limit read."""
        used = self.rules.names | self.limit.base.names
        return used - {PD, SCORE, GRADE}

    @property
    def rule_names(self) -> tuple[str, ...]:
        """The names of the columns of `StrategyArrays.fired`: its rules, then the system ones."""
        return (
            *(r.name for r in self.rules.rules),
            SCORE_REFER,
            SCORE_DECLINE,
            GRADE_DECLINE,
            LIMIT_DECLINE,
        )

    @property
    def reasons(self) -> tuple[str, ...]:
        """The reason code of each column of `StrategyArrays.fired`."""
        system = (*SYSTEM_REASONS.values(), self.limit.config.below_minimum_reason)
        return (*(r.reason for r in self.rules.rules), *system)

    def evaluate(
        self, columns: Mapping[str, np.ndarray], score: np.ndarray, grade: np.ndarray
    ) -> StrategyArrays:
        """Decide every row.

        Args:
            columns: the features the strategy reads, and pd, score, grade, as float64.
            score: score points per row.
            grade: the grade index per row by score.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._evaluate(columns, score, grade)

    def _evaluate(
        self, columns: Mapping[str, np.ndarray], score: np.ndarray, grade: np.ndarray
    ) -> StrategyArrays:
        c = self.cutoffs
        verdicts = self.rules.evaluate(columns, len(score))
        final = np.maximum(grade, verdicts.grade_cap).astype(np.int8)
        undecided = verdicts.outcome == NONE
        below_refer = undecided & (score < c.refer_min_score)
        below_approve = undecided & (score < c.approve_min_score) & ~below_refer
        by_score = np.where(below_refer, DECLINE, np.where(below_approve, REFER, APPROVE))
        outcome = np.where(undecided, by_score, verdicts.outcome)
        outcome = np.where((outcome == APPROVE) & verdicts.refer, REFER, outcome)
        grade_declined = self.declined_grade[final] & (outcome != DECLINE)
        outcome = np.where(grade_declined, DECLINE, outcome)
        low, high, below_minimum = self.limit.amounts(columns, final)
        limit_declined = below_minimum & (outcome == APPROVE)
        outcome = np.where(limit_declined, DECLINE, outcome).astype(np.int8)
        offered = outcome != DECLINE
        tier = np.where(offered, self.pricing.tier_of_grade[final], NONE).astype(np.int8)
        # The cut-offs are recorded like rules where they decided the outcome.
        system = np.column_stack([below_approve, below_refer, grade_declined, limit_declined])
        return StrategyArrays(
            outcome=outcome,
            grade=final,
            limit_min=np.where(offered, low, 0.0),
            limit_max=np.where(offered, high, 0.0),
            tier=tier,
            annual_rate=self.pricing.rates(tier),
            fired=np.hstack([verdicts.fired, system]),
        )


@dataclass(frozen=True)
class LoadedStrategy:
    """A champion strategy, and its challenger with the split when it has one.

    Attributes:
        champion: the strategy that decides by default.
        challenger: the challenger strategy, or None.
        split: how applications are split between them, or None.
        files: the files read (the champion's first).
    """

    champion: CompiledStrategy
    challenger: CompiledStrategy | None = None
    split: Split | None = None
    files: tuple[Path, ...] = ()


def compile_strategy(
    document: StrategyDocument, fields: RuleFields, task: str, source: str | Path
) -> CompiledStrategy:
    """Check a read strategy against the model and compile it.

    Args:
        document: the strategy file as read.
        fields: the model's fields and grades.
        task: the model's task (the strategy must name it).
        source: the file (named in errors).

    Raises:
        ConfigError: every problem, one per line, each naming the table, rule and position.
    """
    grades = fields.grades
    problems: list[str] = []
    if document.strategy.task != task:
        problems.append(
            f"[strategy] task: '{document.strategy.task}' is not the model's task '{task}'"
        )
    rules, found = compile_rules(document.hard_rules, document.soft_rules, fields.types, grades)
    problems += found
    unknown = sorted(set(document.cutoffs.decline_grades) - set(grades))
    if unknown:
        problems.append(
            f"[cutoffs] decline_grades: unknown grade(s) {unknown} (grades: {list(grades)})"
        )
    limit, found = compile_limit(document.limit, fields.types, grades)
    problems += found
    pricing, found = compile_pricing(document.pricing, grades)
    problems += found
    if problems or limit is None or pricing is None:
        count = len(problems)
        raise ConfigError(
            f"{source}: {count} problem{'s' if count > 1 else ''}:\n"
            + "\n".join(f"  - {problem}" for problem in problems)
        )
    declined = np.array([g in document.cutoffs.decline_grades for g in grades], dtype=bool)
    return CompiledStrategy(document.strategy, rules, document.cutoffs, declined, limit, pricing)


def load_strategy(path: str | Path, fields: RuleFields, task: str) -> LoadedStrategy:
    """Read, check and compile a strategy file and its challenger's.

    Args:
        path: the champion's strategy file.
        fields: the model's fields and grades (`RuleFields`).
        task: the model's task.

    Raises:
        ConfigError: a problem of either file (file, table, rule, position).
    """
    path = Path(path)
    document = read_strategy(path)
    champion = compile_strategy(document, fields, task, path)
    if document.challenger is None:
        return LoadedStrategy(champion, files=(path,))
    other = path.parent / document.challenger.strategy
    challenger_document = read_strategy(other)
    if challenger_document.challenger is not None:
        raise ConfigError(f"{other}: [challenger]: a challenger strategy has no challenger")
    challenger = compile_strategy(challenger_document, fields, task, other)
    if challenger.info.name == champion.info.name:
        raise ConfigError(
            f"{other}: [strategy] name: the challenger must differ from the "
            f"champion '{champion.info.name}'"
        )
    split = Split(document.challenger.share, document.challenger.salt)
    return LoadedStrategy(champion, challenger, split, (path, other))
