"""11-digit mainland mobile numbers on real operator prefixes."""

from __future__ import annotations

import numpy as np

MOBILE_PREFIXES = (
    # China Mobile
    "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "157", "158", "159", "178", "182", "183", "187", "188",
    # China Unicom
    "130", "131", "132", "155", "156", "176", "185", "186",
    # China Telecom
    "133", "153", "177", "180", "181", "189",
)  # fmt: skip


def mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random mobile numbers.

    Args:
        rng: the random source.
        n: how many.

    Returns:
        `n` numbers: a prefix of `MOBILE_PREFIXES` and 8 random digits.
    """
    prefixes = np.array(MOBILE_PREFIXES)[rng.integers(0, len(MOBILE_PREFIXES), n)]
    subscriber = rng.integers(0, 100_000_000, n)
    return np.array([f"{p}{s:08d}" for p, s in zip(prefixes, subscriber, strict=True)], object)


def redraw_mobile(value: str, rng: np.random.Generator) -> str:
    """Another number on the same operator prefix.

    Args:
        value: the number to replace.
        rng: the random source.

    Returns:
        The new number.
    """
    return value[:3] + f"{rng.integers(0, 100_000_000):08d}"
