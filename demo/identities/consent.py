"""Consent records of an institution's customers, and which of them are valid."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from fedscore.datasets.market import CUSTOMER_KEY
from fedscore.demo.identities.draws import NAT, exact_assignment, iso, nat, uniform_dates

DEFAULT_AS_OF = date(2026, 11, 25)
"""The run date consent validity is judged at, by default."""
CREDIT_SCORING = "credit_risk_scoring"
MARKETING = "marketing"
CONSENT_COLUMNS = ("customer_id", "purpose", "granted_at", "expires_at", "withdrawn_at")
CONSENT_SHARES = {"valid": 0.93, "expired": 0.02, "withdrawn": 0.02, "none": 0.03}
"""Credit-scoring consent status of an institution's customers at the run date."""
RENEWED_SHARE = 0.03
"""Share of validly consenting customers who also hold an older, expired record."""
MARKETING_SHARE = 0.10
"""Share of customers with a (separate) marketing consent record."""


def valid_consent_ids(
    consents: pd.DataFrame, as_of: date = DEFAULT_AS_OF, purpose: str = CREDIT_SCORING
) -> set[str]:
    """Customer IDs holding a consent for ``purpose`` valid at ``as_of``.

    A record is valid when granted on or before ``as_of``, not expired
    (``expires_at`` empty or after ``as_of``) and not withdrawn (``withdrawn_at``
    empty or after ``as_of``); one valid record suffices. Empty means None, NaN
    or "" (as read back from CSV).

    Args:
        consents: consent records (columns `CONSENT_COLUMNS`).
        as_of: the day validity is judged at.
        purpose: the processing purpose.

    Returns:
        The customer IDs with a valid consent.
    """
    day = as_of.isoformat()
    records = consents[consents["purpose"] == purpose].fillna("")
    granted = records["granted_at"].ne("") & records["granted_at"].le(day)
    live = records["expires_at"].eq("") | records["expires_at"].gt(day)
    kept = records["withdrawn_at"].eq("") | records["withdrawn_at"].gt(day)
    return set(records.loc[granted & live & kept, "customer_id"])


def consent_table(
    party: pd.DataFrame, rng: np.random.Generator, as_of: date = DEFAULT_AS_OF
) -> pd.DataFrame:
    """Consent records of one institution's customers.

    Each customer's credit-scoring status at ``as_of`` follows `CONSENT_SHARES`
    (exact counts, randomly assigned): ``valid`` (granted in the last three
    years, no expiry or a future one; `RENEWED_SHARE` of them also have an
    older expired record), ``expired``, ``withdrawn`` or ``none`` (no
    credit-scoring record; half of these have a marketing record only).
    `MARKETING_SHARE` of the customers also hold a marketing record. Records are
    consents collected long after the card applications, so every date is
    after the customer's ``application_date``. Missing dates are missing values
    (None / NaN; "" once written to CSV and read back as text).

    Args:
        party: an institution table with ``customer_id`` and ``application_date``.
        rng: the random source.
        as_of: the run date the statuses refer to.

    Returns:
        The records (columns `CONSENT_COLUMNS`), sorted by customer, purpose and date.
    """
    n = len(party)
    ids = party[CUSTOMER_KEY].to_numpy()
    applied = party["application_date"].to_numpy(dtype="datetime64[D]")
    day = np.datetime64(as_of, "D")
    status = exact_assignment(rng, n, CONSENT_SHARES)
    records: list[pd.DataFrame] = []

    def add(
        rows: np.ndarray,
        purpose: str,
        granted: np.ndarray,
        expires: np.ndarray,
        withdrawn: np.ndarray,
    ) -> None:
        records.append(
            pd.DataFrame(
                {
                    "customer_id": ids[rows],
                    "purpose": purpose,
                    "granted_at": iso(granted),
                    "expires_at": iso(expires),
                    "withdrawn_at": iso(withdrawn),
                }
            )
        )

    def since(rows: np.ndarray, days_back: int, latest: np.datetime64 | np.ndarray) -> np.ndarray:
        earliest = np.maximum(applied[rows] + 1, day - days_back)
        return uniform_dates(rng, earliest, latest)

    valid = np.flatnonzero(status == "valid")
    granted = since(valid, 3 * 365, day - 1)
    open_ended = rng.random(len(valid)) < 0.6
    expires = uniform_dates(rng, day + 1, granted + 5 * 365)
    add(valid, CREDIT_SCORING, granted, np.where(open_ended, NAT, expires), nat(len(valid)))

    renewed = rng.random(len(valid)) < RENEWED_SHARE
    old_granted = since(valid[renewed], 8 * 365, granted[renewed] - 400)
    old_expires = uniform_dates(rng, old_granted + 365, granted[renewed])
    add(valid[renewed], CREDIT_SCORING, old_granted, old_expires, nat(int(renewed.sum())))

    expired = np.flatnonzero(status == "expired")
    granted = since(expired, 5 * 365, day - 400)
    expires = uniform_dates(rng, granted + 365, day - 1)
    add(expired, CREDIT_SCORING, granted, expires, nat(len(expired)))

    withdrawn = np.flatnonzero(status == "withdrawn")
    granted = since(withdrawn, 3 * 365, day - 31)
    withdrawn_at = uniform_dates(rng, granted + 1, day - 1)
    open_ended = rng.random(len(withdrawn)) < 0.5
    expires = np.where(open_ended, NAT, granted + 5 * 365)
    add(withdrawn, CREDIT_SCORING, granted, expires, withdrawn_at)

    none = np.flatnonzero(status == "none")
    marketing = np.union1d(
        none[rng.random(len(none)) < 0.5], np.flatnonzero(rng.random(n) < MARKETING_SHARE)
    )
    granted = since(marketing, 5 * 365, day - 1)
    withdrawn_at = uniform_dates(rng, granted + 1, day)
    withdrawn_at = np.where(rng.random(len(marketing)) < 0.2, withdrawn_at, NAT)
    add(marketing, MARKETING, granted, nat(len(marketing)), withdrawn_at)

    table = pd.concat(records, ignore_index=True)
    for column in ("expires_at", "withdrawn_at"):
        table[column] = table[column].astype(object).where(table[column].notna(), None)
    return table.sort_values(["customer_id", "purpose", "granted_at"], ignore_index=True)
