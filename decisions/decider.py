"""`Decider`: an application in, a decision out (one at a time, or many rows at once)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from fedscore.decisions.fields import GRADE, PD, SCORE, RuleFields
from fedscore.decisions.plan import CompiledStrategy, LoadedStrategy, load_strategy
from fedscore.decisions.record import Decision, DecisionArrays, StrategyArrays
from fedscore.decisions.rules import OUTCOMES
from fedscore.decisions.split import ARMS, CHALLENGER, CHAMPION
from fedscore.scoring.errors import FieldProblem, RequestError
from fedscore.scoring.identifiers import correlation_id_problem
from fedscore.scoring.scorer import Scorer, ScoreResult

if TYPE_CHECKING:
    import pyarrow as pa

#: The request field of the application id (a correlation id, never a personal identifier).
APPLICATION_ID = "application_id"


class ScoreArrays(Protocol):
    """Scores of many rows, as `Scorer.score_features` (or the batch engine) gives them."""

    @property
    def probability(self) -> np.ndarray: ...
    @property
    def score(self) -> np.ndarray: ...
    @property
    def grade(self) -> np.ndarray: ...


class Decider:
    """Decides applications with a scorer and a strategy (champion, maybe a challenger).

    Args:
        scorer: the model's scorer (its grades are the grades rules and tiers name).
        strategy: the loaded strategy (`load_strategy`, or `Decider.load`).
    """

    def __init__(self, scorer: Scorer, strategy: LoadedStrategy) -> None:
        self.scorer = scorer
        self.strategy = strategy
        self.fields = RuleFields(scorer.schema, tuple(scorer.grades.names))
        arms = [strategy.champion, strategy.challenger]
        self._arms: list[CompiledStrategy] = [s for s in arms if s is not None]
        self._names = frozenset().union(*(s.names for s in self._arms))

    @classmethod
    def load(cls, scorer: Scorer, path: str | Path) -> Decider:
        """A decider of a strategy file, checked against the scorer's model.

        Raises:
            ConfigError: a problem of the strategy file(s), naming file, rule and position.
        """
        fields = RuleFields(scorer.schema, tuple(scorer.grades.names))
        return cls(scorer, load_strategy(path, fields, scorer.model.schema.name))

    def decide(self, fields: Mapping[str, object], application_id: str = "") -> Decision:
        """Decide one application.

        Args:
            fields: feature name → value, exactly as `Scorer.score_record` accepts them.
            application_id: the caller's id of the application (a UUID, a sequence number;
                never a personal identifier): it selects the champion/challenger arm and is
                echoed. "" for none (the champion decides).

        Raises:
            RequestError: the application id or a field is refused (naming it, never the value).
        """
        problem = correlation_id_problem(application_id, self.scorer.guard)
        if problem is not None:
            raise RequestError([FieldProblem(APPLICATION_ID, problem)])
        result = self.scorer.score_record(fields)
        columns = self.fields.record(fields, self._names)
        score = np.array([result.score])
        grade = np.array([self.scorer.grades.names.index(result.grade)], dtype=np.int8)
        arm = self._arm_of(np.array([application_id]))[0]
        strategy = self._arms[arm]
        arrays = strategy.evaluate(
            self._with_outputs(columns, np.array([result.probability_of_default]), score, grade),
            score,
            grade,
        )
        return self._decision(strategy, arrays, result, application_id, int(arm))

    def decide_frame(
        self,
        columns: Mapping[str, np.ndarray] | pa.Table,
        scores: ScoreArrays,
        application_ids: np.ndarray | None = None,
    ) -> DecisionArrays:
        """Decide many rows at once (numpy throughout; no Python loop over rows).

        The rows must have passed the scorer's validation already (the batch engine's).

        Args:
            columns: feature name → array of raw values (or a `pyarrow.Table`); only the
                features the strategies read are used.
            scores: the rows' PD, score points and grade index (a `ScoredBatch`).
            application_ids: each row's application id (text) for the champion/challenger
                split; None: every row goes to the champion.
        """
        rows = len(scores.score)
        inputs = self._with_outputs(
            self.fields.table(columns, self._names),
            scores.probability,
            scores.score,
            scores.grade,
        )
        ids = np.full(rows, "") if application_ids is None else np.asarray(application_ids)
        arm = self._arm_of(ids)
        results = [s.evaluate(inputs, scores.score, scores.grade) for s in self._arms]
        return _merge(self._arms, results, arm)

    def _arm_of(self, ids: np.ndarray) -> np.ndarray:
        split = self.strategy.split
        if split is None:
            return np.zeros(len(ids), dtype=np.int8)
        return split.arms(ids)

    @staticmethod
    def _with_outputs(
        columns: dict[str, np.ndarray], pd: np.ndarray, score: np.ndarray, grade: np.ndarray
    ) -> dict[str, np.ndarray]:
        columns[PD] = np.asarray(pd, dtype=np.float64)
        columns[SCORE] = np.asarray(score, dtype=np.float64)
        columns[GRADE] = np.asarray(grade, dtype=np.float64)
        return columns

    def _decision(
        self,
        strategy: CompiledStrategy,
        arrays: StrategyArrays,
        result: ScoreResult,
        application_id: str,
        arm: int,
    ) -> Decision:
        names = self.scorer.grades.names
        tier = int(arrays.tier[0])
        fired = [i for i, hit in enumerate(arrays.fired[0]) if hit]
        offered = tier >= 0
        return Decision(
            application_id=application_id,
            outcome=OUTCOMES[int(arrays.outcome[0])],
            grade=names[int(arrays.grade[0])],
            score_grade=result.grade,
            action=self.scorer.grades.actions[int(arrays.grade[0])],
            probability_of_default=result.probability_of_default,
            score=result.score,
            limit_min=float(arrays.limit_min[0]),
            limit_max=float(arrays.limit_max[0]),
            pricing_tier=strategy.pricing.names[tier] if offered else "",
            annual_rate=float(arrays.annual_rate[0]) if offered else None,
            instalments=tuple(strategy.pricing.tiers[tier].instalments) if offered else (),
            fired_rules=tuple(strategy.rule_names[i] for i in fired),
            reason_codes=tuple(dict.fromkeys(strategy.reasons[i] for i in fired)),
            model_reasons=result.reasons,
            model_version=self.scorer.version,
            strategy=strategy.info.name,
            strategy_version=strategy.info.version,
            arm=ARMS[arm],
        )


def _merge(
    arms: list[CompiledStrategy], results: list[StrategyArrays], arm: np.ndarray
) -> DecisionArrays:
    """One set of arrays from each arm's decisions, taking each row from its own arm."""
    champion = results[0]
    challenger = results[1] if len(results) > 1 else champion
    on = arm == CHALLENGER

    def pick(name: str) -> np.ndarray:
        picked: np.ndarray = np.where(on, getattr(challenger, name), getattr(champion, name))
        return picked

    tier = pick("tier")
    if len(results) > 1:
        shifted = np.where(challenger.tier >= 0, challenger.tier + len(arms[0].pricing.tiers), -1)
        tier = np.where(on, shifted, champion.tier).astype(np.int8)
    fired = [np.where(arm[:, None] == CHAMPION, champion.fired, False)]
    if len(results) > 1:
        fired.append(np.where(on[:, None], challenger.fired, False))
    versions = [f"{s.info.name}@{s.info.version}" for s in arms] + [""]
    return DecisionArrays(
        arm=arm,
        outcome=pick("outcome"),
        grade=pick("grade"),
        limit_min=pick("limit_min"),
        limit_max=pick("limit_max"),
        tier=tier,
        annual_rate=pick("annual_rate"),
        fired=np.hstack(fired),
        rule_names=tuple(name for s in arms for name in s.rule_names),
        rule_reasons=tuple(reason for s in arms for reason in s.reasons),
        tier_names=tuple(name for s in arms for name in s.pricing.names),
        strategy_versions=(versions[0], versions[1]),
    )
