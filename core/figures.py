"""Saving matplotlib figures as PNG files, off-screen (no display on servers)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def save_figure(fig: plt.Figure, path: Path, dpi: int = 110) -> Path:
    """Lay out `fig`, write it to `path` (folders created) and free it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
