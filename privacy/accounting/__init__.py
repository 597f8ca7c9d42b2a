"""Privacy accounting: per-party accountants and noise calibration."""

from fedscore.privacy.accounting.accountant import EpsilonReport, PartyAccountant
from fedscore.privacy.accounting.calibration import calibrate_noise

__all__ = [
    "EpsilonReport",
    "PartyAccountant",
    "calibrate_noise",
]
