"""Figures of an audit: each party's epsilon per round, and budget used and left."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from fedscore.core.figures import save_figure, styled_figure


@styled_figure
def plot_party_epsilon(party: str, view: dict[str, Any], path: Path) -> Path:
    """One party's cumulative epsilon after every ledgered round, across all its runs.

    RDP solid, PRV dashed, one colour per data version; refused rounds as red crosses
    at the spend they were refused at; the budget as a horizontal line; a dotted line
    where each run starts.
    """
    fig, ax = plt.subplots(figsize=(8, 3.6))
    rounds = view["rounds"]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    versions = list(dict.fromkeys(r["data_version"] for r in rounds))
    for index, version in enumerate(versions):
        color = colors[index % len(colors)]
        trained = [r for r in rounds if r["data_version"] == version and r["status"] == "trained"]
        positions = [r["seq"] + 1 for r in trained]
        for key, style in (("epsilon_rdp", "-"), ("epsilon_prv", "--")):
            values = [_finite(r[key]) for r in trained]
            ax.plot(
                positions,
                values,
                linestyle=style,
                marker="." if style == "-" else None,
                color=color,
                label=f"{key.removeprefix('epsilon_').upper()} · data {str(version)[:8]}",
            )
    refused = [r for r in rounds if r["status"] != "trained"]
    if refused:
        ax.scatter(
            [r["seq"] + 1 for r in refused],
            [_finite(r["epsilon_spent"]) for r in refused],
            marker="x",
            color="red",
            s=50,
            zorder=3,
            label="refused round",
        )
    budgets = {r["max_epsilon"] for r in rounds if r["max_epsilon"] is not None}
    for budget in sorted(budgets):
        ax.axhline(float(budget), color="grey", linestyle=":", linewidth=1.5)
        ax.annotate(
            f"max ε {budget:g}",
            (0.01, float(budget)),
            xycoords=("axes fraction", "data"),
            fontsize=8,
            color="grey",
            va="bottom",
        )
    starts = _run_starts(rounds)
    for position, _ in starts:
        ax.axvline(position - 0.5, color="black", alpha=0.15, linestyle=":")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("ledger entry (rounds of all runs, in order)")
    ax.set_ylabel("cumulative ε on the data version")
    # Display names are institutions' names (not personal data); figure fonts have CJK.
    name = view.get("display_name") or party
    shown = party if name == party else f"{name} ({party})"
    ax.set_title(f"{shown}: ε per round ({len(starts)} run(s))")
    ax.grid(alpha=0.3)
    if rounds:
        ax.legend(fontsize=7, loc="lower right")
    return save_figure(fig, path, dpi=100)


@styled_figure
def plot_budget(parties: dict[str, dict[str, Any]], path: Path) -> Path:
    """Budget used (this data version, and earlier versions of its epoch) and left."""
    labels: list[str] = []
    own: list[float] = []
    earlier: list[float] = []
    left: list[float] = []
    for party, view in parties.items():
        for version in view["data_versions"]:
            labels.append(f"{party}\ndata {str(version['data_version'])[:8]}")
            spent = _finite(version["epsilon"], cap=version["max_epsilon"])
            before = _finite(version["epsilon_earlier_data_versions"])
            own.append(spent)
            earlier.append(before)
            maximum = float(version["max_epsilon"] or 0.0)
            left.append(max(0.0, maximum - spent - before))
    fig, ax = plt.subplots(figsize=(8, 0.7 * max(2, len(labels)) + 1.2))
    positions = range(len(labels))
    ax.barh(positions, earlier, color="#9e9e9e", label="earlier data versions")
    ax.barh(positions, own, left=earlier, color="#d95f02", label="spent on this data version")
    ax.barh(
        positions,
        left,
        left=[a + b for a, b in zip(earlier, own, strict=True)],
        color="#1b9e77",
        alpha=0.35,
        label="left",
    )
    ax.set_yticks(list(positions), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ε (by each data version's budget accountant)")
    ax.set_title("Privacy budget per party and data version")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path, dpi=100)


def _run_starts(rounds: list[dict[str, Any]]) -> list[tuple[int, str]]:
    starts: list[tuple[int, str]] = []
    for r in rounds:
        if not starts or starts[-1][1] != r["run_id"]:
            starts.append((r["seq"] + 1, str(r["run_id"])))
    return starts


def _finite(value: Any, cap: Any = None) -> float:
    """A plottable number: None is NaN, an infinite epsilon is drawn at the cap (or NaN)."""
    if value is None:
        return math.nan
    number = math.inf if value == "inf" else float(value)
    if math.isinf(number):
        return float(cap) if cap is not None else math.nan
    return number
