"""PNG figures of a run: AUC per round, epsilon per round per party, ROC and KS curves."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve

from fedscore.core.figures import save_figure, styled_figure
from fedscore.server.history import RunHistory


@styled_figure
def plot_auc_per_round(history: RunHistory, path: Path) -> Path:
    """Consortium-test AUC and each party's federated-evaluation AUC per round."""
    fig, ax = plt.subplots(figsize=(7, 4))
    rounds = [r.server_round for r in history.rounds]
    test = [r.consortium_test.get("auc", math.nan) for r in history.rounds]
    if any(not math.isnan(v) for v in test):
        ax.plot(rounds, test, marker="o", linewidth=2.5, color="black", label="consortium test")
    for party in history.parties:
        values = [r.federated_eval.get(party, {}).get("auc", math.nan) for r in history.rounds]
        ax.plot(rounds, values, marker=".", linestyle="--", label=f"{party} (local validation)")
    ax.set_xlabel("round")
    ax.set_ylabel("AUC")
    ax.set_title("AUC of the global model per round")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


@styled_figure
def plot_epsilon_per_round(history: RunHistory, path: Path) -> Path:
    """Each party's cumulative epsilon per round, RDP (solid) and PRV (dashed), and budget."""
    fig, ax = plt.subplots(figsize=(7, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, party in enumerate(history.parties):
        color = colors[index % len(colors)]
        rdp = history.epsilon_series(party, "rdp")
        prv = history.epsilon_series(party, "prv")
        if rdp:
            ax.plot(*zip(*rdp, strict=True), marker="o", color=color, label=f"{party} ε (RDP)")
        if prv:
            ax.plot(*zip(*prv, strict=True), linestyle="--", color=color, label=f"{party} ε (PRV)")
        latest = history.latest_spend(party)
        if latest is not None and math.isfinite(latest.max_epsilon):
            ax.axhline(latest.max_epsilon, color=color, linestyle=":", linewidth=1)
        for refused in history.refused_rounds(party):
            ax.axvline(refused, color=color, alpha=0.25, linewidth=6)
    ax.set_xlabel("round")
    ax.set_ylabel("cumulative ε on the party's data version")
    ax.set_title("Privacy spent per party (dotted: max ε; shaded: refused rounds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)


@styled_figure
def plot_roc_ks(labels: np.ndarray, probabilities: np.ndarray, path: Path) -> Path:
    """ROC curve and KS curve (cumulative score distributions of defaulters vs others)."""
    fig, (roc_ax, ks_ax) = plt.subplots(1, 2, figsize=(10, 4))
    fpr, tpr, _ = roc_curve(labels, probabilities)
    roc_ax.plot(fpr, tpr, linewidth=2)
    roc_ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    roc_ax.set_xlabel("false positive rate")
    roc_ax.set_ylabel("true positive rate")
    roc_ax.set_title("ROC on the consortium test set")
    thresholds = np.sort(probabilities)
    bad = np.searchsorted(np.sort(probabilities[labels == 1]), thresholds, side="right")
    good = np.searchsorted(np.sort(probabilities[labels == 0]), thresholds, side="right")
    bad_cdf, good_cdf = bad / max(1, (labels == 1).sum()), good / max(1, (labels == 0).sum())
    gap = np.abs(good_cdf - bad_cdf)
    at = int(np.argmax(gap))
    ks_ax.plot(thresholds, good_cdf, label="non-defaulters")
    ks_ax.plot(thresholds, bad_cdf, label="defaulters")
    ks_ax.vlines(
        thresholds[at], bad_cdf[at], good_cdf[at], color="red", label=f"KS = {gap[at]:.3f}"
    )
    ks_ax.set_xlabel("predicted probability of default")
    ks_ax.set_ylabel("cumulative share")
    ks_ax.set_title("KS curve")
    ks_ax.legend(fontsize=8)
    for ax in (roc_ax, ks_ax):
        ax.grid(alpha=0.3)
    return save_figure(fig, path)
