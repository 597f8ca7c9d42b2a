"""Saving matplotlib figures as PNG files, off-screen (no display on servers).

Figures are drawn under `figure_style`: fonts with CJK glyphs first (see
`fedscore.core.fonts`), so Chinese names and labels render, and matplotlib's global
settings are left as they were.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

from fedscore.core.fonts import CJK_FONT_FAMILIES, FIGURE_FALLBACK_FONT

_P = ParamSpec("_P")
_R = TypeVar("_R")


def figure_fonts() -> list[str]:
    """The font families figures use: the CJK ones matplotlib knows, then DejaVu Sans.

    Families matplotlib has not found are left out: each one asked for and missing
    would log a "font family not found" warning.
    """
    known = set(font_manager.get_font_names())
    return [family for family in CJK_FONT_FAMILIES if family in known] + [FIGURE_FALLBACK_FONT]


def figure_rc() -> dict[RcKeyType, Any]:
    r"""The matplotlib settings every fedscore figure is drawn with.

    Text is never read as mathtext: labels carry names and versions other parties wrote
    (a feature, a data version from a party's ledger), and "$\fr$" in one would stop
    the figure, and with it the audit or the report, with a ParseFatalException.
    """
    return {
        "font.family": "sans-serif",
        "font.sans-serif": figure_fonts(),
        "text.parse_math": False,
    }


def figure_style() -> AbstractContextManager[None]:
    """A context in which figures are drawn (and saved) with `figure_rc`."""
    return matplotlib.rc_context(figure_rc())


def styled_figure(plot: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorate a function that draws and saves a figure to run under `figure_style`."""

    @functools.wraps(plot)
    def styled(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with figure_style():
            return plot(*args, **kwargs)

    return styled


def save_figure(fig: Figure, path: Path, dpi: int = 110) -> Path:
    """Lay out `fig`, write it to `path` (folders created) and free it.

    Args:
        fig: the figure.
        path: the PNG file to write.
        dpi: its resolution in dots per inch.

    Returns:
        `path`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
