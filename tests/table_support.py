"""Test tables built the same way in several test files (test helper, not product code)."""

from __future__ import annotations

import pandas as pd

#: The smallest valid task schema: a key, a label and one numeric feature.
MINIMAL_SCHEMA = """
[task]
name = "t"
purpose = "p"

[[columns]]
name = "id"
role = "customer_key"

[[columns]]
name = "y"
role = "label"
positive = 1
negative = 0

[[columns]]
name = "x"
role = "numeric"
min = 0
max = 10
"""


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
