"""Score points from the probability of default: score = offset − factor · ln(odds).

`odds` are the bad:good odds PD / (1 − PD), so ln(odds) is the model's logit and a
riskier customer gets fewer points. factor = PDO / ln 2 and
offset = base_score + factor · ln(1 / base_odds), where `base_odds` are good:bad
odds: with the defaults (600 points at 50:1, PDO 20) factor = 28.8539,
offset = 600 − 28.8539 · ln 50 = 487.1229; PD = 1/51 scores 600, PD = 1/101 scores 620.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fedscore.scoring.config import ScorecardConfig


@dataclass(frozen=True)
class Scorecard:
    """The linear scaling of log-odds to points.

    Attributes:
        factor: points per unit of ln(odds) (PDO / ln 2).
        offset: points at ln(odds) = 0, i.e. PD = 50 %.
    """

    factor: float
    offset: float

    @classmethod
    def from_config(cls, config: ScorecardConfig) -> Scorecard:
        """The scaling that gives `base_score` at good:bad `base_odds` and doubles per `pdo`."""
        factor = config.pdo / math.log(2.0)
        return cls(factor=factor, offset=config.base_score - factor * math.log(config.base_odds))

    def points_from_logit(self, logit: np.ndarray | float) -> np.ndarray | float:
        """Points of customers whose model logit (= ln bad:good odds) is `logit`."""
        return self.offset - self.factor * logit

    def points_from_probability(self, probability: np.ndarray | float) -> np.ndarray | float:
        """Points of customers with probability of default `probability` (in (0, 1))."""
        p = np.asarray(probability, dtype=np.float64)
        return self.points_from_logit(np.log(p) - np.log1p(-p))

    def points_lost(self, logit_contribution: np.ndarray | float) -> np.ndarray | float:
        """Points a raise of the logit by `logit_contribution` costs the customer."""
        return self.factor * logit_contribution
