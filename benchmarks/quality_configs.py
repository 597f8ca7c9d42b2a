"""The quality benchmark's configurations and how a configuration's result row looks."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from fedscore.core.runconfig import RunConfig

EPSILONS = (0.5, 1.0, 3.0, 8.0)
MODELS = ("lr", "mlp")
TARGET_EPSILON = 1.0
TARGET_MAX_GAP = 0.015
TARGET_STATEMENT = (
    "best federated DP model at epsilon 1 within 0.015 AUC of the stronger centralized GBDT"
)
MODEL_NAMES = {"lr": "LR", "mlp": "MLP", "gbdt": "GBDT"}


@dataclass(frozen=True)
class Configuration:
    """One row of the benchmark.

    Attributes:
        kind: "centralized" or "federated".
        model: "lr", "mlp" or "gbdt".
        private: DP-SGD (federated only).
        epsilon: the run's target epsilon when private.
        tuned: hyperparameters chosen by cross-validated grid search (centralized GBDT).
    """

    kind: str
    model: str
    private: bool = False
    epsilon: float | None = None
    tuned: bool = False

    @property
    def name(self) -> str:
        """How the report names the configuration."""
        if self.kind == "centralized":
            if self.model == "gbdt":
                variant = "tuned, 3-fold CV grid search" if self.tuned else "sklearn defaults"
                return f"centralized GBDT, {variant} (non-private, raw columns)"
            return f"centralized {MODEL_NAMES[self.model]} (non-private, schema encoding)"
        privacy = f"DP ε={self.epsilon:g}" if self.private else "non-private"
        return f"federated {MODEL_NAMES[self.model]}, {privacy}"

    def run_config(self) -> RunConfig:
        """The federated run's configuration (δ = 1e-5, other defaults)."""
        if self.private:
            assert self.epsilon is not None
            return RunConfig(model=self.model, epsilon=self.epsilon, delta=1e-5)
        return RunConfig(model=self.model, private=False, delta=1e-5)


def federated_configurations(quick: bool) -> list[Configuration]:
    """Non-private first, then DP by increasing epsilon, for each model."""
    if quick:
        return [
            Configuration("federated", "lr"),
            Configuration("federated", "lr", True, TARGET_EPSILON),
        ]
    return [
        configuration
        for model in MODELS
        for configuration in (
            Configuration("federated", model),
            *(Configuration("federated", model, True, e) for e in EPSILONS),
        )
    ]


def result_row(
    configuration: Configuration, repeats: list[dict[str, Any]], started: float
) -> dict[str, Any]:
    """A configuration's result: per-repeat metrics plus their mean, min and max.

    Args:
        configuration: what ran.
        repeats: each run's metrics (auc, ks, brier, log_loss, ...).
        started: `time.perf_counter()` when the configuration started.

    Returns:
        The row, as quality.json holds it.
    """
    row: dict[str, Any] = {
        "name": configuration.name,
        "kind": configuration.kind,
        "model": configuration.model,
        "private": configuration.private,
        "epsilon": configuration.epsilon,
        "tuned": configuration.tuned,
        "repeats": repeats,
        "seconds": time.perf_counter() - started,
    }
    for metric in ("auc", "ks", "brier", "log_loss"):
        values = [float(r[metric]) for r in repeats]
        row[metric] = statistics.fmean(values)
        row[f"{metric}_min"], row[f"{metric}_max"] = min(values), max(values)
    if configuration.kind == "federated":
        row["run_config"] = configuration.run_config().as_dict()
    return row
