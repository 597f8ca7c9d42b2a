"""Seeded random streams and random dates, shared by the identity generators."""

from __future__ import annotations

import zlib

import numpy as np

NAT = np.datetime64("NaT", "D")


def nat(n: int) -> np.ndarray:
    """`n` missing dates.

    Args:
        n: how many.

    Returns:
        An array of `n` NaT days.
    """
    return np.full(n, NAT, dtype="datetime64[D]")


def stream_rng(seed: int, stream: str) -> np.random.Generator:
    """An independent random stream per table and purpose, from one seed.

    Args:
        seed: the market's seed.
        stream: what the stream is for (a table name, "unique", "consent:<party>").

    Returns:
        A generator that depends only on `seed` and `stream`.
    """
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(zlib.crc32(stream.encode()),))
    )


def uniform_dates(
    rng: np.random.Generator,
    earliest: np.datetime64 | np.ndarray,
    latest: np.datetime64 | np.ndarray,
    n: int | None = None,
) -> np.ndarray:
    """Uniform days in [earliest, latest] (element-wise; latest is clipped up to earliest).

    Args:
        rng: the random source.
        earliest: the first allowed day (one, or one per draw).
        latest: the last allowed day (one, or one per draw).
        n: how many days to draw (default: the broadcast shape of the bounds).

    Returns:
        The drawn days.
    """
    earliest = np.asarray(earliest, dtype="datetime64[D]")
    latest = np.maximum(np.asarray(latest, dtype="datetime64[D]"), earliest)
    size = n if n is not None else np.broadcast(earliest, latest).shape
    span = (latest - earliest).astype(int) + 1
    days: np.ndarray = earliest + np.floor(rng.random(size) * span).astype(int)
    return days


def iso(days: np.ndarray) -> np.ndarray:
    """ISO date strings, None for NaT.

    Args:
        days: dates (anything numpy reads as days).

    Returns:
        An object array of "YYYY-MM-DD" strings and None.
    """
    days = np.asarray(days, dtype="datetime64[D]")
    text = np.datetime_as_string(days, unit="D").astype(object)
    text[np.isnat(days)] = None
    return text


def exact_assignment(rng: np.random.Generator, n: int, shares: dict[str, float]) -> np.ndarray:
    """Labels in exact proportions (largest remainder), randomly permuted.

    Args:
        rng: the random source.
        n: how many labels.
        shares: label → its share (the shares sum to 1).

    Returns:
        `n` labels.
    """
    labels = list(shares)
    raw = np.array([shares[label] * n for label in labels])
    counts = np.floor(raw).astype(int)
    counts[np.argsort(counts - raw)[: n - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.array(labels, dtype=object), counts))
