"""A registered model ready to score: probability of default, points, grade, action, reasons.

Single customers go through `Scorer.score_record` (identifier check, the fast record
encoder, one forward pass); tables go through `Scorer.score_features` after the core
validation and encoding (`fedscore.core.validation`, `fedscore.core.encoding`), which
the batch scorer does chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fedscore.core.artifact import ScoringModel
from fedscore.core.errors import TableProblem, TableValidationError
from fedscore.core.validation import validate_frame
from fedscore.scoring.config import ScoringConfig
from fedscore.scoring.development import DevelopmentProfile
from fedscore.scoring.errors import FieldProblem, RequestError
from fedscore.scoring.features import FeatureGroups
from fedscore.scoring.grades import GradeScale
from fedscore.scoring.identifiers import IdentifierGuard
from fedscore.scoring.reasons import Reason, build_attribution, top_reasons
from fedscore.scoring.record import RecordEncoder, scoring_schema
from fedscore.scoring.scorecard import Scorecard


@dataclass(frozen=True)
class ScoreResult:
    """One customer's score.

    Attributes:
        model_version: the registered model version that scored it.
        probability_of_default: the model's PD.
        score: score points (see `Scorecard`).
        grade: the risk grade ("A"…"D").
        action: the grade's configured action.
        reasons: the features that lowered the score most, largest first.
    """

    model_version: str
    probability_of_default: float
    score: float
    grade: str
    action: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class ScoredBatch:
    """Scores of many customers, as arrays.

    Attributes:
        logit: the model's log-odds per customer.
        probability: PD per customer.
        score: points per customer.
        grade: grade index per customer (into `Scorer.grades.names`).
        reasons: (customers × top) indices into `Scorer.groups.names`; -1 where fewer
            features lowered the score.
        reason_points: the points each of those reasons cost (NaN where -1).
        contributions: (customers × raw features) logit contributions against the
            baseline (None when no reason code is asked for).
    """

    logit: np.ndarray
    probability: np.ndarray
    score: np.ndarray
    grade: np.ndarray
    reasons: np.ndarray
    reason_points: np.ndarray
    contributions: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.probability)


class Scorer:
    """Scores customers with one registered model.

    Args:
        model: The trained model with its task schema.
        version: Its registered version, named in every score.
        profile: The development population (baseline of reason codes, PSI reference).
        config: Scorecard scaling, grades, reason codes.
    """

    def __init__(
        self,
        model: ScoringModel,
        version: str,
        profile: DevelopmentProfile,
        config: ScoringConfig,
    ) -> None:
        self.model = model
        self.version = version
        self.profile = profile
        self.config = config
        self.schema = scoring_schema(model.schema)
        self.scorecard = Scorecard.from_config(config.scorecard)
        self.grades = GradeScale(config.grades)
        self.groups = FeatureGroups.of(model.schema)
        self.records = RecordEncoder(model.schema)
        self.guard = IdentifierGuard(model.schema)
        self.encoder = model.encoder
        self.attribution = build_attribution(
            config.reasons.method,
            model,
            np.asarray(profile.baseline),
            config.reasons.integrated_gradient_steps,
        )
        self._feature_set = frozenset(self.records.feature_names)

    # -- one customer ---------------------------------------------------------------

    def score_record(self, fields: Mapping[str, object]) -> ScoreResult:
        """Score one customer from their feature fields.

        Raises:
            RequestError: a field carries a direct identifier, is not a feature, or is
                missing, mistyped or an unknown category.
        """
        if len(fields) > len(self.guard.task_columns):
            raise RequestError(
                [],
                f"the request carries {len(fields):,} fields, more than the task's "
                f"{len(self.guard.task_columns)} columns: send only the model's "
                f"{len(self._feature_set)} features; nothing was checked or scored",
            )
        problems = self.guard.field_problems(fields)
        flagged = {p.field for p in problems}
        problems += [
            p for p in _unknown_fields(fields, self._feature_set) if p.field not in flagged
        ]
        if problems:
            raise RequestError(problems)
        batch = self.score_features(self.records.encode(fields)[None, :])
        index = int(batch.grade[0])
        band = self.grades.bands[index]
        return ScoreResult(
            model_version=self.version,
            probability_of_default=float(batch.probability[0]),
            score=float(batch.score[0]),
            grade=band.name,
            action=band.action,
            reasons=self.reasons_of(batch, 0),
        )

    def reasons_of(self, batch: ScoredBatch, row: int) -> tuple[Reason, ...]:
        """The reason codes of one row of a scored batch."""
        return tuple(
            Reason(
                feature=self.groups.names[int(index)],
                logit_contribution=float(points) / self.scorecard.factor,
                points=float(points),
            )
            for index, points in zip(batch.reasons[row], batch.reason_points[row], strict=True)
            if index >= 0
        )

    # -- tables ---------------------------------------------------------------------

    def encode_frame(
        self, frame: pd.DataFrame, source: str, first_row: int = 1, header: int = 0
    ) -> np.ndarray:
        """Validate and encode a chunk of a table with the core validation and encoding.

        Args:
            frame: the chunk as read (raw cells).
            source: the file it came from (named in errors).
            first_row: the 1-based row number of the chunk's first row in the file.
            header: file lines before the first data row (for line numbers).

        Raises:
            TableValidationError: naming the file, row (in the whole file) and column.
            TableReadError: a feature column holds direct identifiers.
        """
        feature_columns = [c for c in self.records.feature_names if c in frame.columns]
        rows = np.arange(first_row, first_row + len(frame))
        self.guard.check_table(frame, feature_columns, source, rows=rows, header_lines=header)
        try:
            table = validate_frame(frame, self.schema, source, header, model_columns_only=True)
        except TableValidationError as error:
            raise _shifted(error, first_row - 1, header) from None
        return self.encoder.transform(table)

    def score_features(self, features: np.ndarray) -> ScoredBatch:
        """Score an encoded feature matrix (rows × encoded columns)."""
        logits = self.model.logits(features)
        by_feature = (
            self.attribution.per_feature(features, self.groups.grouping)
            if self.config.reasons.top
            else None
        )
        return self.scored(logits, by_feature)

    def scored(self, logits: np.ndarray, by_feature: np.ndarray | None) -> ScoredBatch:
        """The scores of customers from their logits and their contributions per raw feature.

        Args:
            logits: the model's log-odds per customer.
            by_feature: logit contributions (rows × raw features) against the baseline,
                as `self.attribution.per_feature` gives them; None when no reason is asked.
        """
        probability = 1.0 / (1.0 + np.exp(-logits))
        score = np.asarray(self.scorecard.points_from_logit(logits), dtype=np.float64)
        top = self.config.reasons.top
        if top and by_feature is not None:
            reasons = top_reasons(by_feature, top)
            lost = np.take_along_axis(by_feature, np.maximum(reasons, 0).astype(np.int64), axis=1)
            reason_points = np.where(reasons >= 0, self.scorecard.factor * lost, np.nan)
        else:
            reasons = np.empty((len(logits), 0), dtype=np.int16)
            reason_points = np.empty((len(logits), 0))
        return ScoredBatch(
            logits, probability, score, self.grades.index(score), reasons, reason_points, by_feature
        )


def _unknown_fields(fields: Mapping[str, object], features: frozenset[str]) -> list[FieldProblem]:
    """A problem for every field that is not one of the model's features."""
    return [
        FieldProblem(name, "is not a feature of the model; send only the model's features")
        for name in fields
        if name not in features
    ]


def _shifted(error: TableValidationError, offset: int, header: int) -> TableValidationError:
    """The same problems with rows counted from the start of the file, not of the chunk."""
    problems = [
        TableProblem(p.row + offset if p.row is not None else None, p.column, p.problem)
        for p in error.problems
    ]
    return TableValidationError(error.source, problems, error.total, header)
