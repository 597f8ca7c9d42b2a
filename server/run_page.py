"""report.html of a run directory: one self-contained page with the figures embedded."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from fedscore.core.documents import figure_html, json_safe
from fedscore.core.fonts import CSS_FONT_STACK, CSS_MONO_FONT_STACK

_STYLE = (
    f"body{{font-family:{CSS_FONT_STACK};margin:2em}}img{{max-width:100%}}"
    f"pre{{font-family:{CSS_MONO_FONT_STACK}}}"
)


def render_run_page(summary: dict[str, Any], figures: list[Path]) -> str:
    """The page of a run: its figures, then its summary.json.

    Args:
        summary: the run's summary (see `rundir.build_summary`).
        figures: the PNG figures to embed, in order; each captioned by its file name.

    Returns:
        The HTML page.
    """
    run_id = html.escape(summary["run_id"])
    images = "\n".join(figure_html(f, f.stem) for f in figures)
    body = html.escape(json.dumps(json_safe(summary), indent=2, ensure_ascii=False))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>fedscore run {run_id}</title><style>{_STYLE}</style></head>"
        f"<body><h1>Run {run_id}</h1>{images}"
        f"<h2>summary.json</h2><pre>{body}</pre></body></html>"
    )
