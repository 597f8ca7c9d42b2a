"""The monitoring report: a JSON summary and one self-contained HTML page with its plots.

The page embeds its two figures as PNG (matplotlib): the grade migration heatmap and
PSI per feature. It shows counts, shares, features and grades; never a customer key
(those are in the Parquet files, the bank's own output).
"""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING, Any

import numpy as np

from fedscore.monitoring.stability import FeatureStability

if TYPE_CHECKING:
    from fedscore.monitoring.migration import Migration


def summary(
    migration: Migration,
    stability: list[FeatureStability],
    score_psi: float,
    actions: tuple[str, ...],
    books: dict[str, Any],
    warn_above: float,
) -> dict[str, Any]:
    """The JSON summary: books, migration matrix, grade counts and actions, stability.

    Args:
        migration: the joined books.
        stability: each feature's stability.
        score_psi: the PSI of T2's scores against T1's.
        actions: each grade's action.
        books: what was read (files, model version, rows, rules).
        warn_above: the PSI warning threshold.
    """
    grades = list(migration.grades)
    t2 = migration.matrix.sum(axis=0) + migration.new
    t1 = migration.matrix.sum(axis=1) + migration.closed
    return {
        **books,
        "grades": grades,
        "migration_matrix": migration.matrix.tolist(),
        "closed_per_grade": dict(zip(grades, migration.closed.tolist(), strict=True)),
        "new_per_grade": dict(zip(grades, migration.new.tolist(), strict=True)),
        "customers_per_grade_t1": dict(zip(grades, t1.tolist(), strict=True)),
        "customers_per_grade_t2": dict(zip(grades, t2.tolist(), strict=True)),
        "actions": [
            {"grade": g, "action": a, "customers": int(n)}
            for g, a, n in zip(grades, actions, t2, strict=True)
        ],
        "movers": migration.movers.num_rows,
        "score_psi": score_psi,
        "score_psi_warning": score_psi > warn_above,
        "psi_warn_above": warn_above,
        "features": [s.as_dict() for s in stability],
    }


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def figures(
    migration: Migration, stability: list[FeatureStability], warn_above: float
) -> list[tuple[str, str]]:
    """(title, base64 PNG) of the migration heatmap and of PSI per feature."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fedscore.core.figures import figure_style

    grades = list(migration.grades)
    with figure_style():
        fig, ax = plt.subplots(figsize=(4.8, 4.0))
        rows = np.maximum(migration.matrix.sum(axis=1, keepdims=True), 1)
        ax.imshow(migration.matrix / rows, cmap="Blues", vmin=0, vmax=1)
        for (i, j), count in np.ndenumerate(migration.matrix):
            ax.text(j, i, f"{count:,}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(grades)), grades)
        ax.set_yticks(range(len(grades)), grades)
        ax.set_xlabel("grade at T2")
        ax.set_ylabel("grade at T1")
        ax.set_title("Grade migration (share of the T1 grade)")
        heatmap = _png(fig)
        fig, ax = plt.subplots(figsize=(7.0, max(3.0, 0.22 * len(stability))))
        names = [s.feature for s in stability]
        values = [s.psi for s in stability]
        colours = ["#c0392b" if s.unstable else "#2e86c1" for s in stability]
        ax.barh(range(len(names)), values, color=colours)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.invert_yaxis()
        ax.axvline(warn_above, color="#c0392b", linestyle="--", linewidth=1)
        ax.set_xlabel("PSI (T2 against T1)")
        ax.set_title("Population stability per feature")
        bars = _png(fig)
    return [("Grade migration", heatmap), ("PSI per feature", bars)]


_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:70em}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
    "figure{display:inline-block;margin:1em}"
)


def _table(header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict[str, Any], plots: list[tuple[str, str]]) -> str:
    """The page: books, actions per grade, migration matrix, movers count, stability, plots."""
    grades = report["grades"]
    matrix = [
        [g, *(f"{n:,}" for n in row)]
        for g, row in zip(grades, report["migration_matrix"], strict=True)
    ]
    actions = [[a["grade"], a["action"], f"{a['customers']:,}"] for a in report["actions"]]
    features = [
        [
            f["feature"],
            f"{f['psi']:.4f}",
            f"{f['points_shift']:+.2f}",
            "unstable" if f["unstable"] else "",
        ]
        for f in report["features"]
    ]
    images = "".join(
        f'<figure><img alt="{html.escape(t)}" src="data:image/png;base64,{png}">'
        f"<figcaption>{html.escape(t)}</figcaption></figure>"
        for t, png in plots
    )
    unstable = " (unstable)" if report["score_psi_warning"] else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Book monitoring</title>
<style>{_STYLE}</style>
</head><body>
<h1>Book monitoring</h1>
<p>T1: {html.escape(report["t1"]["file"])} ({report["t1"]["rows"]:,} customers);
T2: {html.escape(report["t2"]["file"])} ({report["t2"]["rows"]:,} customers);
model {html.escape(report["model_version"])}; rules {html.escape(report["rules"])}.</p>
<p>Score PSI (T2 against T1's deciles): {report["score_psi"]:.4f}{unstable}.
Movers (fell {report["mover_steps"]}+ grades): {report["movers"]:,}.</p>
<h2>Actions at T2</h2>
{_table(["grade", "action", "customers"], actions)}
<h2>Grade migration (customers in both books; rows T1, columns T2)</h2>
{_table(["T1 → T2", *grades], matrix)}
<h2>Characteristic stability</h2>
{_table(["feature", "PSI", "points shift", ""], features)}
{images}
</body></html>
"""
