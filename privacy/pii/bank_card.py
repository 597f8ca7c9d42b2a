"""Bank card numbers: 16–19 digits passing the Luhn check, or UnionPay numbers named as cards.

Digits may be written in one run ("6222021234567890123") or in groups of four
separated by single spaces or dashes ("6222 0212 3456 7890 123"). A number is
a card when it passes the Luhn check (ISO/IEC 7812), or when it is a UnionPay
number (BIN 62…) that fails Luhn but follows a card keyword (卡号, 银行卡, 账号,
card, …) within `KEYWORD_WINDOW` characters: some UnionPay debit cards carry no
Luhn check digit. The keyword may also come from the outer context of a scan,
such as a column named "卡号" or "card_no".

Overlap with other identifiers: an 18-digit number that is a valid resident ID
or an all-digit unified social credit code is reported as a card only after a
card keyword. Otherwise about one in ten of them would also pass Luhn and be
counted twice; the value is still reported, by its own detector. A run of
digits directly followed by a letter is not a card either: it is the body of a
resident ID ending in "X" or of a credit code. Other 16–19 digit identifiers
that happen to pass Luhn (one in ten random numbers) are reported as cards: the
check cannot tell them apart.
"""

from __future__ import annotations

import re

from fedscore.privacy.pii.registry import Detector
from fedscore.privacy.pii.resident_id import is_valid_resident_id
from fedscore.privacy.pii.social_credit_code import is_valid_social_credit_code

#: Words that name a card number (matched case-insensitively).
CARD_KEYWORDS: tuple[str, ...] = (
    "卡号",
    "银行卡",
    "信用卡",
    "借记卡",
    "账号",
    "帐号",
    "账户",
    "帐户",
    "card",
    "acct",
    "account",
)
#: How many characters before a number a card keyword must lie within.
KEYWORD_WINDOW = 16

_DIGITS = re.compile(r"[0-9]+")
_CARD_DIGITS = re.compile(r"[0-9]{16,19}")
_SEPARATORS = str.maketrans("", "", " -")
#: A digit's code → the code of the digit sum of twice it (0→0, 5→1, 9→9).
_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")


def _luhn_total(digits: str, double_rightmost: bool) -> int:
    """The Luhn sum of ASCII digits, doubling every second digit from the right.

    Args:
        digits: ASCII digits only.
        double_rightmost: whether the rightmost digit is doubled (True when computing a
            check digit to append, False when checking a complete number).
    """
    codes = digits.encode("ascii")[::-1]
    kept, doubled = (codes[1::2], codes[0::2]) if double_rightmost else (codes[0::2], codes[1::2])
    return sum(kept) + sum(doubled.translate(_DOUBLED)) - 48 * len(codes)


def luhn_check_digit(partial: str) -> str:
    """The digit to append to `partial` so that the whole number passes the Luhn check.

    Args:
        partial: the number without its check digit: one or more ASCII digits.

    Raises:
        ValueError: `partial` is empty or not all ASCII digits.
    """
    if not isinstance(partial, str) or _DIGITS.fullmatch(partial) is None:
        raise ValueError(f"expected ASCII digits, got {partial!r}")
    return str(-_luhn_total(partial, double_rightmost=True) % 10)


def is_luhn_valid(number: object) -> bool:
    """Whether a number passes the Luhn check; never raises.

    Args:
        number: ASCII digits, check digit last (at least two); anything else is invalid.
    """
    if not isinstance(number, str) or len(number) < 2 or _DIGITS.fullmatch(number) is None:
        return False
    return _luhn_total(number, double_rightmost=False) % 10 == 0


def has_card_keyword(context: object) -> bool:
    """Whether a card keyword lies in the last `KEYWORD_WINDOW` characters of `context`.

    Args:
        context: the text just before a number; anything that is not a string has none.
    """
    if not isinstance(context, str):
        return False
    tail = context[-KEYWORD_WINDOW:].lower()
    return any(keyword in tail for keyword in CARD_KEYWORDS)


def is_valid_bank_card(text: object, context: str = "") -> bool:
    """Whether `text` is a bank card number, by the rules of this module; never raises.

    Args:
        text: the candidate: 16–19 digits, possibly with single spaces or dashes.
        context: the text just before it, searched for a card keyword.
    """
    if not isinstance(text, str) or len(text) > 25:
        return False
    digits = text.translate(_SEPARATORS)
    if _CARD_DIGITS.fullmatch(digits) is None:
        return False
    if not is_luhn_valid(digits):
        return digits.startswith("62") and has_card_keyword(context)
    if len(digits) == 18 and (is_valid_resident_id(digits) or is_valid_social_credit_code(digits)):
        return has_card_keyword(context)
    return True


class BankCardDetector(Detector):
    """Bank card numbers: Luhn-valid 16–19 digits, or UnionPay 62… after a card keyword."""

    name = "bank_card"
    # One run of 16–19 digits, or 4-4-4-4[-1..3] groups split by single spaces or dashes.
    # Neither touches another digit (or, for groups, another separated group), nor is
    # followed by a letter (the body of a resident ID ending in "X", of a credit code).
    # The first digit comes before the lookbehinds (which then span it) so that the
    # regex engine can skip ahead to digits: twice as fast over text. Digits right after
    # "<digit>." are a decimal fraction (e.g. 0.7712345678901234 in a JSON metric), not
    # a card.
    pattern = re.compile(
        r"[0-9](?<![0-9]{2})(?<![0-9]\.[0-9])"
        r"(?:[0-9]{15,18}(?![0-9A-Za-z])"
        r"|(?<![0-9][ -][0-9])[0-9]{3}(?:[ -][0-9]{4}){3}(?:[ -][0-9]{1,3})?"
        r"(?![0-9A-Za-z])(?![ -][0-9]))"
    )
    min_digits = 16
    digit_run = (4, 19)  # groups of 4, or one run
    context_chars = KEYWORD_WINDOW

    def is_valid(self, candidate: str, context: str = "") -> bool:
        """Whether `candidate` is a card number (see `is_valid_bank_card`).

        Args:
            candidate: the text to judge.
            context: the text just before it, searched for a card keyword.
        """
        return is_valid_bank_card(candidate, context)
