"""Timing repeated calls."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    """The median wall time of `repeats` calls of `action`.

    Args:
        action: what is timed, called with no arguments.
        repeats: how many times it is called (at least 1).

    Returns:
        The median duration in seconds.
    """
    durations = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)
