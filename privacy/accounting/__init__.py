"""Privacy accounting: per-party accountants, noise calibration and their persistent store."""

from fedscore.privacy.accounting.accountant import EpsilonReport, PartyAccountant
from fedscore.privacy.accounting.calibration import calibrate_noise
from fedscore.privacy.accounting.store import (
    AccountantKey,
    AccountantStore,
    ConcurrentCharge,
    ReleasedUpdate,
    RoundRecord,
)

__all__ = [
    "AccountantKey",
    "AccountantStore",
    "ConcurrentCharge",
    "EpsilonReport",
    "PartyAccountant",
    "ReleasedUpdate",
    "RoundRecord",
    "calibrate_noise",
]
