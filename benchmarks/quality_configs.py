"""The quality benchmark's configurations and how a configuration's result row looks."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from quality_setups import Setup

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
        setup: the task and party sizes it trains on (default: the demo's).
        hand_set: the settings before automatic ones (`auto = false`: batch 512, one
            local epoch, learning rate 0.1, clipping 4), for comparison on the same rows.
    """

    kind: str
    model: str
    private: bool = False
    epsilon: float | None = None
    tuned: bool = False
    setup: Setup = field(default_factory=Setup)
    hand_set: bool = False

    @property
    def name(self) -> str:
        """How the report names the configuration."""
        return f"{self._model_name} [{self.setup.label}]" if self.setup.label else self._model_name

    @property
    def _model_name(self) -> str:
        if self.kind == "centralized":
            if self.model == "gbdt":
                variant = "tuned, 3-fold CV grid search" if self.tuned else "sklearn defaults"
                return f"centralized GBDT, {variant} (non-private, raw columns)"
            return f"centralized {MODEL_NAMES[self.model]} (non-private, schema encoding)"
        privacy = f"DP ε={self.epsilon:g}" if self.private else "non-private"
        hand_set = ", hand-set (batch 512, 1 epoch, lr 0.1, C 4)" if self.hand_set else ""
        return f"federated {MODEL_NAMES[self.model]}, {privacy}{hand_set}"

    def run_config(self) -> RunConfig:
        """The federated run's configuration (δ = 1e-5, other defaults: automatic settings)."""
        auto = False if self.hand_set else None
        if self.private:
            assert self.epsilon is not None
            return RunConfig(model=self.model, epsilon=self.epsilon, delta=1e-5, auto=auto)
        return RunConfig(model=self.model, private=False, delta=1e-5, auto=auto)


#: Configurations on other data than the demo's default-risk task (issue 14): three
#: parties of about 200 rows, and the second bundled task; DP at the target epsilon.
SETUPS = (
    Setup(party_rows=200, reference="lr", max_gap=0.05),
    # The MLP too: the label depends on interactions (a late month and its payment) that
    # the tuned GBDT finds and LR cannot (scikit-learn on the pooled rows, 2026-11-30: MLP
    # 0.921, LR 0.915).
    Setup(task="early_delinquency", reference="gbdt", max_gap=0.02, models=("lr", "mlp")),
)


def setup_configurations() -> list[Configuration]:
    """Each of `SETUPS`' models at DP ε = 1 with automatic settings."""
    return [
        Configuration("federated", model, True, TARGET_EPSILON, setup=s)
        for s in SETUPS
        for model in s.models
    ]


#: Issue 14's figures for the demo's task at DP ε = 1 with automatic settings: at least
#: the hand-set result, aiming within 0.010 of the tuned centralized GBDT.
AUTO_SETTINGS_FLOOR = 0.7645
AUTO_SETTINGS_AIM_GAP = 0.010


def federated_configurations(quick: bool, setups_only: bool = False) -> list[Configuration]:
    """Non-private first, then DP by increasing epsilon, for each model; then `SETUPS`.

    Args:
        quick: federated LR non-private and at ε = 1 only, on the demo's task.
        setups_only: DP ε = 1 LR on the demo's task (automatic and hand-set settings) and
            each of `SETUPS`' models only.
    """
    if setups_only:
        return [
            Configuration("federated", "lr", True, TARGET_EPSILON),
            Configuration("federated", "lr", True, TARGET_EPSILON, hand_set=True),
            *setup_configurations(),
        ]
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
    ] + setup_configurations()


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
        "task": configuration.setup.task,
        "party_rows": configuration.setup.party_rows,
        "repeats": repeats,
        "seconds": time.perf_counter() - started,
    }
    for metric in ("auc", "ks", "brier", "log_loss"):
        values = [float(r[metric]) for r in repeats]
        row[metric] = statistics.fmean(values)
        row[f"{metric}_min"], row[f"{metric}_max"] = min(values), max(values)
    if configuration.kind == "federated":
        run = configuration.run_config()
        row["run_config"] = {**run.as_dict(), "automatic": run.automatic}
    return row
