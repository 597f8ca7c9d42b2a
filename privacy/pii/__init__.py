"""Detecting undeclared personal information (PII) in the data a node would train on.

Detectors, one per kind, registered by name: "resident_id" (居民身份证号码),
"mobile", "bank_card", "social_credit_code" (统一社会信用代码) and "email".
Scanners report how many matches each column, text or byte string holds, never
the matched values.

Example:
    >>> from fedscore.privacy.pii import scan_frame
    >>> hits = scan_frame(table)  # [ColumnHit(column="备注", detector="mobile", count=12)]
"""

from fedscore.privacy.pii.bank_card import (
    BankCardDetector,
    is_luhn_valid,
    is_valid_bank_card,
    luhn_check_digit,
)
from fedscore.privacy.pii.email import EmailDetector, is_valid_email
from fedscore.privacy.pii.mobile import MobileDetector, is_valid_mobile
from fedscore.privacy.pii.registry import (
    Detector,
    available_detectors,
    default_detectors,
    get_detector,
    register_detector,
    resolve_detectors,
)
from fedscore.privacy.pii.resident_id import (
    ResidentIdDetector,
    birth_date,
    is_male,
    is_valid_resident_id,
    resident_id_check_char,
)
from fedscore.privacy.pii.scanner import ColumnHit, scan_frame, scan_series
from fedscore.privacy.pii.social_credit_code import (
    SocialCreditCodeDetector,
    is_valid_social_credit_code,
    social_credit_check_char,
)
from fedscore.privacy.pii.text_scan import png_text, scan_bytes, scan_file, scan_text

# The built-in detectors, in the order scans report them.
for _detector in (
    ResidentIdDetector(),
    MobileDetector(),
    BankCardDetector(),
    SocialCreditCodeDetector(),
    EmailDetector(),
):
    register_detector(_detector)
del _detector

__all__ = [
    "BankCardDetector",
    "ColumnHit",
    "Detector",
    "EmailDetector",
    "MobileDetector",
    "ResidentIdDetector",
    "SocialCreditCodeDetector",
    "available_detectors",
    "birth_date",
    "default_detectors",
    "get_detector",
    "is_luhn_valid",
    "is_male",
    "is_valid_bank_card",
    "is_valid_email",
    "is_valid_mobile",
    "is_valid_resident_id",
    "is_valid_social_credit_code",
    "luhn_check_digit",
    "png_text",
    "register_detector",
    "resident_id_check_char",
    "resolve_detectors",
    "scan_bytes",
    "scan_file",
    "scan_frame",
    "scan_series",
    "scan_text",
    "social_credit_check_char",
]
