"""De-identification at the node (GB/T 37964): drop, pseudonymize, generalize, suppress.

Its output is still personal information under PIPL Art. 73 — de-identified
(去标识化), not anonymized — and every report says so.
"""

from fedscore.privacy.deidentification.consent_source import DeidentificationRefused
from fedscore.privacy.deidentification.pipeline import DeidentifiedTable, deidentify
from fedscore.privacy.deidentification.report import DEIDENTIFIED_LABEL, DeidentificationReport

__all__ = [
    "DEIDENTIFIED_LABEL",
    "DeidentificationRefused",
    "DeidentificationReport",
    "DeidentifiedTable",
    "deidentify",
]
