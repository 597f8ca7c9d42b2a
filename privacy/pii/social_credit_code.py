"""Unified social credit codes of organisations (统一社会信用代码, GB 32100-2015).

18 characters over the alphabet 0-9 and ABCDEFGHJKLMNPQRTUWXY (no I, O, Z, S,
V): the registering authority (1-9, A, N, Y), the organisation type, a 6-digit
region code, the 9-character organisation code and a check character (GB/T
17710, ISO 7064 MOD 31-3): alphabet[(31 − Σ value_i · 3^i mod 31) mod 31], where
a character's value is its index in the alphabet.

Beyond the check character, a valid code has a known registering authority and
a region code that starts with a province-level code, or "10" for national
registrations. The region rule also keeps most resident IDs (whose characters
3–8 are not a region code) from passing as credit codes; an all-digit string
that satisfies both rules is reported by both detectors.

Codes are upper-case by the standard; lower-case text is not matched.
"""

from __future__ import annotations

import re

from fedscore.privacy.pii.registry import Detector
from fedscore.privacy.pii.resident_id import PROVINCE_CODES

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(17))
#: First characters: the registering authorities of GB 32100.
AUTHORITIES = frozenset("123456789ANY")
#: First two digits of the region code (characters 3–8): province level, or national.
REGION_PREFIXES: frozenset[str] = PROVINCE_CODES | {"10"}

_VALUES = {char: index for index, char in enumerate(ALPHABET)}
_CHARS = "0-9A-HJ-NP-RTUWXY"
_SHAPE = re.compile(rf"[{_CHARS}]{{2}}[0-9]{{6}}[{_CHARS}]{{10}}")
_BODY = re.compile(rf"[{_CHARS}]{{17}}")


def social_credit_check_char(first17: str) -> str:
    """The check character of a unified social credit code.

    Args:
        first17: the first 17 characters of the code, over `ALPHABET`.

    Raises:
        ValueError: `first17` is not 17 characters of `ALPHABET`.
    """
    if not isinstance(first17, str) or _BODY.fullmatch(first17) is None:
        raise ValueError(f"expected 17 characters of {ALPHABET}, got {first17!r}")
    total = sum(_VALUES[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid_social_credit_code(text: object) -> bool:
    """Whether `text` is exactly a valid unified social credit code; never raises.

    Args:
        text: the candidate; anything that is not a string is invalid.
    """
    if not isinstance(text, str) or _SHAPE.fullmatch(text) is None:
        return False
    if text[0] not in AUTHORITIES or text[2:4] not in REGION_PREFIXES:
        return False
    return social_credit_check_char(text[:17]) == text[17]


class SocialCreditCodeDetector(Detector):
    """Unified social credit codes of companies and other organisations."""

    name = "social_credit_code"
    # The authority and region rules are in the pattern too: most 18-digit numbers
    # (resident IDs among them) are then never candidates.
    pattern = re.compile(
        rf"(?<![0-9A-Za-z])[{''.join(sorted(AUTHORITIES))}][{_CHARS}]"
        rf"(?:{'|'.join(sorted(REGION_PREFIXES))})[0-9]{{4}}[{_CHARS}]{{10}}(?![0-9A-Za-z])"
    )
    min_digits = 18
    digit_run = (6, 18)  # the region code, maybe with digits around it

    def is_valid(self, candidate: str, context: str = "") -> bool:
        """Whether `candidate` is a credit code (see `is_valid_social_credit_code`).

        Args:
            candidate: the text to judge.
            context: ignored.
        """
        return is_valid_social_credit_code(candidate)
