"""Writing an audit report: its JSON document, its HTML page and the page's figures."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fedscore.core.documents import write_json, write_text_atomic

if TYPE_CHECKING:
    from fedscore.privacy.audit.report import AuditReport


@dataclass(frozen=True)
class AuditOutputs:
    """Where an audit report was written.

    Attributes:
        html: the self-contained page, audit_report.html.
        json: the document, audit_report.json.
        figures: the PNG figures embedded in the page, under figures/.
    """

    html: Path
    json: Path
    figures: tuple[Path, ...]


def write_audit_report(report: AuditReport, out: Path) -> AuditOutputs:
    """Save the report as `out/audit_report.json` and a self-contained `out/audit_report.html`.

    Figures are drawn into a scratch folder first and moved into `out/figures/` only once
    the HTML page has been rendered, so a failure leaves no partial report behind.

    Args:
        report: the audit (see `report.audit`).
        out: the folder to write into; created if missing.

    Returns:
        Where the page, the JSON document and the figures were written.
    """
    # matplotlib loads only when a report is written, not whenever `report` is imported.
    from fedscore.privacy.audit.html import render_html
    from fedscore.privacy.audit.plots import plot_budget, plot_party_epsilon
    from fedscore.vertical.audit import budget_chart, section_html

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".audit-") as scratch:
        work = Path(scratch)
        budget = plot_budget(report.document["parties"], work / "budget.png")
        per_party = {
            party: plot_party_epsilon(party, view, work / f"epsilon_{_slug(party)}.png")
            for party, view in report.document["parties"].items()
        }
        drawn = [budget, *per_party.values()]
        vertical = ""
        if report.vertical:
            chart = budget_chart(list(report.vertical), work / "vertical_budgets.png")
            vertical = section_html(list(report.vertical), chart, level=3)
            drawn.append(chart)
        page = render_html(report.document, budget, per_party, vertical)
        figures_dir = out / "figures"
        figures_dir.mkdir(exist_ok=True)
        figures = tuple(Path(shutil.move(str(p), figures_dir / p.name)) for p in drawn)
    json_path = write_json(out / "audit_report.json", report.document)
    html_path = write_text_atomic(out / "audit_report.html", page)
    return AuditOutputs(html_path, json_path, figures)


def _slug(name: str) -> str:
    """`name` with every run of characters unsafe in a file name replaced by "_"."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "party"
