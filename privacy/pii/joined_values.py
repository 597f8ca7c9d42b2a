r"""Counting detector matches in many values at once: joined by "\n", searched once.

A match in a value counts as many times as rows hold the value. In a large text, a
detector whose matches need a run of digits runs only over the values holding one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fedscore.privacy.pii.registry import Detector

#: Joined values at least this long are first searched for digit runs (`Detector.digit_run`).
_PREFILTER_MIN_CHARS = 1 << 16
#: ... and a detector runs over the values holding a run only when they are this share or less.
_PREFILTER_MAX_SHARE = 0.5


def count_in_texts(
    texts: list[str],
    weights: np.ndarray | None,
    detectors: Sequence[Detector],
    context: str,
    prefilter: bool = True,
) -> dict[str, int]:
    r"""Counts over values joined by "\n"; a match in texts[i] counts weights[i] (or 1) times.

    Args:
        texts: the values.
        weights: how many rows hold each value; None for one each.
        detectors: the detectors to run.
        context: outer context of every value (the column name).
        prefilter: in a large text, run a detector with a `digit_run` only over the values
            holding such a run of digits (found once, vectorised), when that leaves out
            most values. Useless when every value is a number.
    """
    if not texts:
        return {}
    if weights is None:
        weights = np.ones(len(texts), dtype=np.int64)
    blob = "\n".join(texts)
    starts = _starts(texts)
    prefilter = prefilter and len(blob) >= _PREFILTER_MIN_CHARS
    runs: tuple[np.ndarray, np.ndarray] | None = None  # (value index, length) of digit runs
    counts: dict[str, int] = {}
    for detector in detectors:
        if detector.required_text and detector.required_text not in blob:
            continue
        if prefilter and detector.digit_run is not None:
            if runs is None:
                runs = _digit_runs(blob, starts)
            shortest, longest = detector.digit_run
            values, lengths = runs
            holders = np.unique(values[(lengths >= shortest) & (lengths <= longest)])
            if holders.size <= _PREFILTER_MAX_SHARE * len(texts):
                if holders.size:
                    held = [texts[i] for i in holders.tolist()]
                    found = _count_matches(
                        "\n".join(held), _starts(held), weights[holders], detector, context
                    )
                    if found:
                        counts[detector.name] = found
                continue
        found = _count_matches(blob, starts, weights, detector, context)
        if found:
            counts[detector.name] = found
    return counts


def _starts(texts: list[str]) -> np.ndarray:
    """Where each value starts once the values are joined by one-character separators."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1
    return np.cumsum(lengths) - lengths


def _count_matches(
    blob: str, starts: np.ndarray, weights: np.ndarray, detector: Detector, context: str
) -> int:
    r"""Weighted number of `detector`'s matches in values joined by "\n".

    Args:
        blob: the joined values.
        starts: where each value starts in `blob`.
        weights: how many rows hold each value.
        detector: the detector to run.
        context: outer context of every value.
    """
    positions = np.fromiter((start for start, _ in detector.spans(blob, context)), dtype=np.int64)
    if positions.size == 0:
        return 0
    return int(weights[np.searchsorted(starts, positions, side="right") - 1].sum())


def _digit_runs(blob: str, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""(value index, length) of every maximal run of ASCII digits in `blob`.

    Args:
        blob: values joined by "\n".
        starts: where each value starts in `blob`.
    """
    # One byte per character: every non-ASCII character becomes one "?".
    codes = np.frombuffer(blob.encode("ascii", errors="replace"), dtype=np.uint8)
    is_digit = (codes - np.uint8(48)) < 10  # wraps around below "0"
    edges = np.diff(is_digit.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    run_starts = np.flatnonzero(edges == 1)
    lengths = np.flatnonzero(edges == -1) - run_starts
    return np.searchsorted(starts, run_starts, side="right") - 1, lengths
