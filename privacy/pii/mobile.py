"""Mainland China mobile phone numbers: 11 digits 1[3-9]XXXXXXXXX, optionally +86 / 0086 / 86.

The country prefix may be followed by one space or dash ("+86 138…", "0086-138…").
A number is not taken out of a longer run of digits: neither the prefix nor the
11 digits may touch another digit.
"""

from __future__ import annotations

import re

from fedscore.privacy.pii.registry import Detector

_NUMBER = r"(?:(?:\+86|0086|86)[ -]?)?1[3-9][0-9]{9}"
_SHAPE = re.compile(_NUMBER)


def is_valid_mobile(text: object) -> bool:
    """Whether `text` is exactly one mobile number (with or without prefix); never raises.

    Args:
        text: the candidate; anything that is not a string is invalid.
    """
    return isinstance(text, str) and _SHAPE.fullmatch(text) is not None


class MobileDetector(Detector):
    """Mainland mobile numbers, bare or with a +86 / 0086 / 86 country prefix."""

    name = "mobile"
    # Not after "<digit>.": the fraction digits of a decimal number are no phone number.
    pattern = re.compile(rf"(?<![0-9])(?<![0-9]\.){_NUMBER}(?![0-9])")
    min_digits = 11
    digit_run = (11, 15)  # bare 11, 86 + 11, 0086 + 11

    def is_valid(self, candidate: str, context: str = "") -> bool:
        """Whether `candidate` is a mobile number (see `is_valid_mobile`).

        Args:
            candidate: the text to judge.
            context: ignored.
        """
        return is_valid_mobile(candidate)
