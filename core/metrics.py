"""Credit-scoring metrics: discrimination (AUC, KS, Gini) and calibration (Brier, log-loss)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score, roc_curve


@dataclass(frozen=True)
class ScoreMetrics:
    """How well predicted default probabilities separate and calibrate.

    Attributes:
        auc: area under the ROC curve.
        ks: Kolmogorov–Smirnov statistic, max |TPR − FPR| over thresholds.
        gini: 2·AUC − 1.
        brier: mean squared error of the probabilities.
        log_loss: mean negative log-likelihood.
        n: number of customers scored.
        positives: number of defaults among them.
    """

    auc: float
    ks: float
    gini: float
    brier: float
    log_loss: float
    n: int
    positives: int

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def ks_statistic(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The Kolmogorov-Smirnov statistic: the largest gap between the ROC's TPR and FPR.

    Args:
        labels: the true classes (0/1).
        probabilities: the predicted probabilities of class 1.
    """
    fpr, tpr, _ = roc_curve(labels, probabilities)
    return float(np.max(tpr - fpr))


def score_metrics(labels: np.ndarray, probabilities: np.ndarray) -> ScoreMetrics:
    """All metrics at once; needs both classes present in `labels`."""
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-7, 1 - 1e-7)
    if labels.min() == labels.max():
        raise ValueError("metrics need both defaulters and non-defaulters in the labels")
    auc = float(roc_auc_score(labels, probabilities))
    return ScoreMetrics(
        auc=auc,
        ks=ks_statistic(labels, probabilities),
        gini=2 * auc - 1,
        brier=float(brier_score_loss(labels, probabilities)),
        log_loss=float(log_loss(labels, probabilities, labels=[0, 1])),
        n=int(labels.size),
        positives=int(labels.sum()),
    )
