"""The development population's profile, computed once when a model is registered.

The model owner's development data (by default the run's consortium test set:
features and label, no identifiers) gives two things every later score relies on:

- the **baseline** of reason codes: the mean encoded feature vector of the development
  population (one-hot columns become the share of each level). A reason's contribution
  is measured against this average customer: w_j · (x_j − baseline_j) for LR;
- the **score distribution** the scored populations are compared to by PSI, kept as
  deciles of the log-odds: points are a decreasing linear function of the log-odds, so
  the bins and the PSI are the same whatever scorecard a scorer is configured with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fedscore.core.artifact import ScoringModel
from fedscore.core.tabular import file_sha256
from fedscore.core.validation import label_column, load_validated
from fedscore.scoring.config import ScoringConfig
from fedscore.scoring.grades import GradeScale
from fedscore.scoring.psi import ScoreDistribution
from fedscore.scoring.record import scoring_schema
from fedscore.scoring.scorecard import Scorecard


@dataclass(frozen=True)
class DevelopmentProfile:
    """What registration keeps of the development population.

    Attributes:
        source_sha256: hash of the development file.
        rows: its customers.
        default_rate: its share of defaults (None if it had no label).
        baseline: mean encoded feature vector (the reference customer of reason codes).
        distribution: binned shares of its log-odds (for PSI; see the module docstring).
        grades: its customers per grade.
    """

    source_sha256: str
    rows: int
    default_rate: float | None
    baseline: tuple[float, ...]
    distribution: ScoreDistribution
    grades: dict[str, int]

    @classmethod
    def build(cls, model: ScoringModel, path: Path, config: ScoringConfig) -> DevelopmentProfile:
        """Score the development file at `path` with `model` and keep its profile."""
        table = load_validated(path, scoring_schema(model.schema), model_columns_only=True)
        features = model.encoder.transform(table)
        probability = model.probabilities(features)
        probability = np.clip(probability, 1e-12, 1 - 1e-12)
        logits = np.log(probability) - np.log1p(-probability)
        scores = np.asarray(
            Scorecard.from_config(config.scorecard).points_from_probability(probability)
        )
        scale = GradeScale(config.grades)
        counts = np.bincount(scale.index(scores), minlength=len(scale.bands))
        labels = table.labels if label_column() in table.frame else None
        return cls(
            source_sha256=file_sha256(path),
            rows=len(scores),
            default_rate=float(labels.mean()) if labels is not None else None,
            baseline=tuple(features.astype(np.float64).mean(axis=0).tolist()),
            distribution=ScoreDistribution.from_scores(logits, config.psi.bins),
            grades={name: int(n) for name, n in zip(scale.names, counts, strict=True)},
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_sha256": self.source_sha256,
            "rows": self.rows,
            "default_rate": self.default_rate,
            "baseline": list(self.baseline),
            "distribution": self.distribution.as_dict(),
            "grades": self.grades,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DevelopmentProfile:
        return cls(
            source_sha256=str(data["source_sha256"]),
            rows=int(data["rows"]),
            default_rate=data.get("default_rate"),
            baseline=tuple(float(v) for v in data["baseline"]),
            distribution=ScoreDistribution.from_dict(data["distribution"]),
            grades={str(k): int(v) for k, v in data["grades"].items()},
        )
