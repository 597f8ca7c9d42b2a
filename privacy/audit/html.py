"""The audit report as one self-contained HTML page (figures embedded, no scripts, no fetches)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fedscore.core.documents import figure_html
from fedscore.core.fonts import CSS_FONT_STACK, CSS_MONO_FONT_STACK
from fedscore.privacy.audit.html_cells import escape
from fedscore.privacy.audit.html_sections import (
    budget_table,
    findings_section,
    model_cards_section,
    party_section,
    shared_customers_section,
    verification_section,
)

_STYLE = f"""
body{{font-family:{CSS_FONT_STACK};margin:2em auto;max-width:1100px;color:#222;padding:0 1em}}
code{{font-family:{CSS_MONO_FONT_STACK}}}
h1{{margin-bottom:.2em}}h2{{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}}
table{{border-collapse:collapse;margin:.6em 0;font-size:.9em}}
th,td{{border:1px solid #ddd;padding:.3em .6em;text-align:right}}
th:first-child,td:first-child{{text-align:left}}th{{background:#f4f4f4}}
.verdict{{padding:.8em 1em;border-radius:6px;font-weight:bold;font-size:1.1em}}
.ok{{background:#e3f4e8;color:#145a2a}}.failed{{background:#fbe4e4;color:#8a1c1c}}
.failure{{color:#8a1c1c}}.warning{{color:#8a5a00}}
.note{{color:#555;font-size:.9em}}code{{font-size:.85em}}
figure{{margin:1em 0}}img{{max-width:100%}}figcaption{{color:#555;font-size:.85em}}
section.party{{border-left:4px solid #d95f02;padding-left:1em;margin:1.5em 0}}
"""


def render_html(
    document: dict[str, Any],
    budget_figure: Path,
    party_figures: dict[str, Path],
    vertical_section: str = "",
) -> str:
    """The page for an audit document (see `report.build_audit_report`).

    Args:
        document: the audit document.
        budget_figure: the PNG of budgets per party and data version.
        party_figures: each party's epsilon-per-round PNG.
        vertical_section: the vertical runs' part, as HTML ("" when there are none).

    Returns:
        The HTML page: self-contained, no scripts, no fetches.
    """
    verification = document["verification"]
    verdict = (
        '<p class="verdict ok" id="verdict">VERIFIED: every ledger, signature and '
        "cross-check holds</p>"
        if verification["ok"]
        else '<p class="verdict failed" id="verdict">FAILED: the evidence does not verify '
        "(see the findings)</p>"
    )
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(document['title'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(document['title'])}</h1>",
        f"<p class='note'>generated {escape(document['generated_at'])} by fedscore "
        f"{escape(document['fedscore_version'])}; key list: "
        f"{escape(verification['key_list'] or 'none (nodes’ own key files)')}</p>",
        verdict,
        findings_section(document["findings"]),
        verification_section(verification),
        "<h2>Privacy budget</h2>",
        figure_html(budget_figure, "budget used and left per party and data version", "budget"),
        budget_table(document["parties"]),
        *(
            party_section(party, view, party_figures[party])
            for party, view in document["parties"].items()
        ),
        shared_customers_section(document["shared_customers"]),
        model_cards_section(document["runs"]),
        f"<h2 id='vertical'>Vertical runs</h2>{vertical_section}" if vertical_section else "",
        f"<h2>What the figures mean</h2><p class='note'>{escape(document['semantics'])}</p>",
        "</body></html>",
    ]
    return "\n".join(parts)
