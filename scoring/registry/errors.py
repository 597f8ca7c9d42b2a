"""The error of every registry operation that cannot go ahead."""

from __future__ import annotations

from fedscore.core.errors import FedscoreError


class RegistryError(FedscoreError):
    """A registry operation failed.

    Unknown version, failed verification, a missing key, a run whose figures its signed ledger
    entries contradict, nothing to roll back.
    """
