"""Test tables built the same way in several test files (test helper, not product code)."""

from __future__ import annotations

import pandas as pd


def granted_consent(table: pd.DataFrame) -> pd.DataFrame:
    """Consent records granting the credit-risk purpose to every customer of `table`."""
    return pd.DataFrame(
        {
            "customer_id": table["customer_id"],
            "purpose": "credit_risk_scoring",
            "granted_at": "2020-01-01",
            "expires_at": "",
            "withdrawn_at": "",
        }
    )
