"""E-mail addresses with an ASCII local part and a dotted domain ending in a letter TLD.

Found inside any text, Chinese text without separators included
("邮箱zhang.san@example.com联系"). Internationalised (non-ASCII) addresses are
not matched.
"""

from __future__ import annotations

import re

from fedscore.privacy.pii.registry import Detector

_LOCAL = r"[A-Za-z0-9_][A-Za-z0-9_.%+-]{0,63}"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = rf"{_LOCAL}@(?:{_LABEL}\.)+[A-Za-z]{{2,24}}"
_SHAPE = re.compile(_ADDRESS)
MAX_LENGTH = 254


def is_valid_email(text: object) -> bool:
    """Whether `text` is exactly one e-mail address of the shape found here; never raises.

    Args:
        text: the candidate; anything that is not a string is invalid.
    """
    return (
        isinstance(text, str)
        and len(text) <= MAX_LENGTH
        and _SHAPE.fullmatch(text) is not None
        and ".." not in text
        and ".@" not in text
    )


class EmailDetector(Detector):
    """E-mail addresses."""

    name = "email"
    # The local part starts where no local-part character precedes it; the TLD ends
    # where no letter, digit or dash follows (a trailing full stop is fine).
    pattern = re.compile(rf"(?<![A-Za-z0-9_.%+-]){_ADDRESS}(?![A-Za-z0-9-])")
    required_text = "@"

    def is_valid(self, candidate: str, context: str = "") -> bool:
        """Whether `candidate` is an e-mail address (see `is_valid_email`).

        Args:
            candidate: the text to judge.
            context: ignored.
        """
        return is_valid_email(candidate)
