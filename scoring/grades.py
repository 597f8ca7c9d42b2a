"""Risk grades A–D from score points, each with the action risk operations take."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from fedscore.scoring.config import GradeBand


@dataclass(frozen=True)
class GradeScale:
    """Ordered grades, best first; a score gets the first grade whose `min_score` it reaches.

    Attributes:
        bands: the configured grades (the last one has no `min_score`).
    """

    bands: tuple[GradeBand, ...]

    @property
    def names(self) -> list[str]:
        return [band.name for band in self.bands]

    @property
    def actions(self) -> list[str]:
        return [band.action for band in self.bands]

    @functools.cached_property
    def _cuts(self) -> np.ndarray:
        return np.array([b.min_score for b in self.bands[:-1]], dtype=np.float64)

    def index(self, points: np.ndarray) -> np.ndarray:
        """The grade index (0 = best) of each score."""
        # Cut-offs fall from the best grade down: count the cut-offs a score misses.
        missed: np.ndarray = (np.asarray(points, dtype=np.float64)[..., None] < self._cuts).sum(
            axis=-1
        )
        return missed.astype(np.int8)

    def band(self, points: float) -> GradeBand:
        """The grade of one score."""
        return self.bands[int(self.index(np.array([points]))[0])]
