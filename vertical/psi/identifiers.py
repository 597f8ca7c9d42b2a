"""One spelling per resident ID, so that both parties hash the same text for one person.

The two parties of a private set intersection compare hashes: a customer whose number
one party keeps as "11010519491231002x" and the other as "１１０１０５ １９４９１２３１
００２Ｘ" is only found in both sets if both reduce the number to the same text first.
`normalize_resident_id` is that reduction: full-width characters to ASCII (NFKC, as the
pseudonymizers do), spaces and hyphens removed, "x" upper-cased, then checked with
`is_valid_resident_id`; a legacy 15-digit number is upgraded to its 18-character form
(GB 11643: "19" inserted before the birth year, the check character appended), since
the other party may hold the same person under the new number.
"""

from __future__ import annotations

from fedscore.privacy.pii.resident_id import is_valid_resident_id, resident_id_check_char
from fedscore.privacy.pseudonymization.registry import normalize_identifier

#: What separates digit groups in hand-typed numbers; removed before validation.
_SEPARATORS = str.maketrans("", "", " \t-\u00a0\u3000")


def normalize_resident_id(text: str) -> str | None:
    """The canonical 18-character form of a resident ID, or None if `text` is not one.

    Args:
        text: a resident ID as one party stored it: possibly with full-width digits,
            surrounding or inner spaces, hyphens, a lowercase "x", or in the legacy
            15-digit form.

    Returns:
        17 ASCII digits and a check character ("0"-"9" or "X"), or None when the text
        is not a valid resident ID (wrong shape, check character, birth date or region).
    """
    if not isinstance(text, str):
        return None
    # NFKC leaves ASCII text as it is: skip it for the common case (a million IDs a run).
    spelled = text.strip().upper() if text.isascii() else normalize_identifier(text)
    candidate = spelled.translate(_SEPARATORS)
    if not is_valid_resident_id(candidate):
        return None
    if len(candidate) == 15:
        first17 = candidate[:6] + "19" + candidate[6:]
        return first17 + resident_id_check_char(first17)
    return candidate
