"""UnionPay card numbers: a real ``62`` BIN, 16 or 19 digits, a valid Luhn check digit."""

from __future__ import annotations

import numpy as np

from fedscore.privacy.pii import luhn_check_digit

CARD_BINS: tuple[tuple[str, int], ...] = (
    ("622202", 19),  # ICBC debit
    ("621226", 19),  # ICBC debit
    ("622848", 19),  # ABC debit
    ("621700", 19),  # CCB debit
    ("622700", 19),  # CCB debit
    ("622262", 19),  # BOCOM debit
    ("621483", 16),  # CMB debit
    ("622588", 16),  # CMB credit
    ("622575", 16),  # CMB credit
)
"""UnionPay BINs (issuer identification numbers) and their card number lengths."""


def card_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random card numbers on the BINs of `CARD_BINS`.

    Args:
        rng: the random source.
        n: how many.

    Returns:
        `n` card numbers.
    """
    bins = rng.integers(0, len(CARD_BINS), n)
    numbers = []
    for index in bins:
        prefix, length = CARD_BINS[index]
        account = rng.integers(0, 10, length - len(prefix) - 1)
        body = prefix + "".join(map(str, account))
        numbers.append(body + luhn_check_digit(body))
    return np.array(numbers, dtype=object)


def redraw_card_number(value: str, rng: np.random.Generator) -> str:
    """Another card number of the same BIN and length.

    Args:
        value: the card number to replace.
        rng: the random source.

    Returns:
        The new card number.
    """
    prefix = value[:6]
    body = prefix + "".join(map(str, rng.integers(0, 10, len(value) - 7)))
    return body + luhn_check_digit(body)
