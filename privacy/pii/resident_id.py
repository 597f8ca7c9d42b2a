"""Resident identity card numbers (居民身份证号码, GB 11643-1999), 18-digit and legacy 15-digit.

An 18-character number is a 6-digit region code, the birth date YYYYMMDD, a
3-digit sequence number (odd for men, even for women) and a check character:
"10X98765432"[Σ digit_i · weight_i mod 11] over the first 17 digits (ISO 7064
MOD 11-2); a lowercase "x" is accepted. A legacy 15-digit number is a region
code, the birth date YYMMDD (19YY) and a sequence number, with no check
character.

A number is valid when its check character matches (18 digits), its birth date
is a real calendar date neither before 1900 nor in the future, and its region
code starts with a province-level code of GB/T 2260 (the full table of counties
is not checked).

The helpers are public so that synthetic valid numbers can be generated elsewhere.
"""

from __future__ import annotations

import operator
import re
from datetime import date

from fedscore.privacy.pii.registry import Detector

#: First two digits of a region code: provinces, autonomous regions and
#: municipalities (GB/T 2260), Taiwan (71), Hong Kong (81), Macao (82), Taiwan
#: residents' cards (83) and 91.
PROVINCE_CODES: frozenset[str] = frozenset(
    f"{code}"
    for code in (
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,
        81,
        82,
        83,
        91,
    )
)

WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
_ZERO_SUM = 48 * sum(WEIGHTS)
EARLIEST_BIRTH = date(1900, 1, 1)

_DIGITS17 = re.compile(r"[0-9]{17}")
_SHAPE = re.compile(r"[0-9]{17}[0-9Xx]|[0-9]{15}")


def resident_id_check_char(first17: str) -> str:
    """The check character ("0"–"9" or "X") of an 18-character resident ID.

    Args:
        first17: the first 17 characters of the ID: ASCII digits only.

    Raises:
        ValueError: `first17` is not 17 ASCII digits.
    """
    if not isinstance(first17, str) or _DIGITS17.fullmatch(first17) is None:
        raise ValueError(f"expected 17 ASCII digits, got {first17!r}")
    return CHECK_CHARS[_weighted_sum(first17) % 11]


def _weighted_sum(digits17: str) -> int:
    """Σ digit_i · weight_i over 17 ASCII digits (the bytes' codes are 48 + digit)."""
    total: int = sum(map(operator.mul, digits17.encode("ascii"), WEIGHTS))
    return total - _ZERO_SUM


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if _is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _calendar_date(year: int, month: int, day: int) -> date | None:
    """The date, or None when it is not a real calendar date (never raises)."""
    if not 1 <= year <= 9999 or not 1 <= month <= 12:
        return None
    if not 1 <= day <= _days_in_month(year, month):
        return None
    return date(year, month, day)


def _encoded_birth_date(number: str, today: date | None) -> date | None:
    """Birth date of a digit string shaped like an ID, if real and in [1900, today]."""
    if len(number) == 18:
        year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    else:
        year, month, day = 1900 + int(number[6:8]), int(number[8:10]), int(number[10:12])
    born = _calendar_date(year, month, day)
    if born is None or born < EARLIEST_BIRTH or born > (today or date.today()):
        return None
    return born


def is_valid_resident_id(text: object, today: date | None = None) -> bool:
    """Whether `text` is exactly a valid 18- or 15-character resident ID; never raises.

    Args:
        text: the candidate; anything that is not a string is invalid.
        today: the date after which birth dates are "in the future" (default: today).
    """
    if not isinstance(text, str) or _SHAPE.fullmatch(text) is None:
        return False
    if text[:2] not in PROVINCE_CODES:
        return False
    if _encoded_birth_date(text, today) is None:
        return False
    return len(text) == 15 or CHECK_CHARS[_weighted_sum(text[:17]) % 11] == text[17].upper()


def birth_date(resident_id: object, today: date | None = None) -> date | None:
    """The birth date a valid resident ID encodes; None for anything else.

    Args:
        resident_id: an 18- or 15-character ID (legacy IDs encode 19YY).
        today: as in `is_valid_resident_id`.
    """
    if not isinstance(resident_id, str) or not is_valid_resident_id(resident_id, today):
        return None
    return _encoded_birth_date(resident_id, today)


def is_male(resident_id: object, today: date | None = None) -> bool | None:
    """Whether a valid resident ID belongs to a man (odd sequence number); None if invalid.

    Args:
        resident_id: an 18- or 15-character ID.
        today: as in `is_valid_resident_id`.
    """
    if not isinstance(resident_id, str) or not is_valid_resident_id(resident_id, today):
        return None
    return int(resident_id[14 if len(resident_id) == 15 else 16]) % 2 == 1


class ResidentIdDetector(Detector):
    """Resident ID numbers, 18-character (check character verified) and legacy 15-digit."""

    name = "resident_id"
    # Not preceded by a digit; not followed by a digit or another x (so the 17 digits
    # before an "X" are not a 17-digit run of their own, and the digits of a longer run
    # are never taken).
    # Not after "<digit>.": the fraction digits of a decimal number are no ID number.
    pattern = re.compile(r"(?<![0-9])(?<![0-9]\.)(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9Xx])")
    min_digits = 15
    digit_run = (15, 18)

    def is_valid(self, candidate: str, context: str = "") -> bool:
        """Whether `candidate` is a valid resident ID (see `is_valid_resident_id`).

        Args:
            candidate: the text to judge.
            context: ignored.
        """
        return is_valid_resident_id(candidate)
