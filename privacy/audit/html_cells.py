"""Cells and tables of the audit page: escaped, with numbers formatted for people."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], ident: str = "") -> str:
    """An HTML table.

    Args:
        header: the column titles.
        rows: the rows, one value per column (formatted by `cell`).
        ident: the table's element id; "" for none.
    """
    ident_attr = f" id='{escape(ident)}'" if ident else ""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table{ident_attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def cell(value: Any) -> str:
    """A table cell's text: floats by `number`, None and "" as a dash, all escaped."""
    if isinstance(value, float):
        return number(value)
    return escape("—" if value is None or value == "" else value)


def number(value: Any) -> str:
    """A figure for people: 4 decimals (4 significant digits below 0.001), ∞, or a dash."""
    if value is None:
        return "—"
    if value == "inf" or (isinstance(value, float) and math.isinf(value)):
        return "∞"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.4g}" if abs(value) < 1e-3 and value else f"{value:.4f}"
    return escape(value)


def percent(value: Any) -> str:
    """A share (0.05) as a percentage ("5.0%"); None as a dash."""
    return "—" if value is None else f"{float(value):.1%}"


def escape(value: Any) -> str:
    """`value` as text, escaped for HTML."""
    return html.escape(str(value))
