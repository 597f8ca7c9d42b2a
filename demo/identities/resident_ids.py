"""18-digit resident ID numbers (GB 11643-1999) consistent with a person's age and sex."""

from __future__ import annotations

from datetime import date

import numpy as np

from fedscore.demo.identities.draws import uniform_dates
from fedscore.demo.identities.regions import REGIONS
from fedscore.privacy.pii import resident_id_check_char

REFERENCE_DATE = date(2005, 10, 1)
"""The date ``AGE`` refers to (the UCI data describes April-September 2005)."""


def id_numbers(
    rng: np.random.Generator, region: np.ndarray, age: np.ndarray, male: np.ndarray
) -> np.ndarray:
    """Resident IDs: region code, birth date (age ``age`` at REFERENCE_DATE), sequence, check.

    Args:
        rng: the random source.
        region: per person, the index into `REGIONS` of the ID's region.
        age: per person, the age at `REFERENCE_DATE`.
        male: per person, whether he is a man (odd sequence numbers).

    Returns:
        One ID number per person.
    """
    n = len(region)
    # Born in (REFERENCE_DATE - (age + 1) years, REFERENCE_DATE - age years].
    ref = REFERENCE_DATE
    latest = np.array([date(ref.year - a, ref.month, ref.day) for a in age], "datetime64[D]")
    earliest = np.array([date(ref.year - a - 1, ref.month, ref.day) for a in age], "datetime64[D]")
    born = uniform_dates(rng, earliest + 1, latest, n)
    codes = np.array([REGIONS[i].code for i in region], dtype=object)
    births = np.char.replace(np.datetime_as_string(born, unit="D"), "-", "")
    bodies = [
        f"{code}{birth}{seq:03d}"
        for code, birth, seq in zip(codes, births, _sequences(rng, male), strict=True)
    ]
    return np.array([_with_check(body) for body in bodies], dtype=object)


def redraw_id_number(value: str, rng: np.random.Generator) -> str:
    """Another ID number of the same person: a new sequence number of the same parity.

    Args:
        value: the ID number to replace.
        rng: the random source.

    Returns:
        The new ID number (same region, birth date and sex).
    """
    male = int(value[16]) % 2 == 1
    return _with_check(value[:14] + f"{int(_sequences(rng, np.array([male]))[0]):03d}")


def _sequences(rng: np.random.Generator, male: np.ndarray) -> np.ndarray:
    """3-digit sequence numbers: odd (001-999) for men, even (002-998) for women."""
    half = rng.integers(0, 499, size=len(male))  # 0..498
    return np.where(male, 2 * half + 1, 2 * half + 2)


def _with_check(body: str) -> str:
    return body + resident_id_check_char(body)
