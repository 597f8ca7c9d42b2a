"""Shared fixtures: the bundled task schema and small, real party tables from the demo split."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import tomli_w

from fedscore.core.schema import TaskSchema, load_schema
from fedscore.core.tabular import write_table
from fedscore.datasets.identities import IdentifiedMarket, add_identities
from fedscore.datasets.market import default_task_path, split_market
from fedscore.privacy.keys import KeyRing

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


@pytest.fixture(scope="session")
def minimal_schema() -> str:
    """The smallest valid task schema (TOML text): key, label, one feature."""
    return MINIMAL_SCHEMA


@pytest.fixture(scope="session")
def schema() -> TaskSchema:
    return load_schema(default_task_path())


@pytest.fixture(scope="session")
def market() -> IdentifiedMarket:
    """The demo institutions' tables with their (synthetic) identities and consent records."""
    return add_identities(split_market())


@pytest.fixture()
def party_table(market) -> pd.DataFrame:
    """3,500 real rows of the large bank (enough to reach k = 5), as the bank holds them."""
    return market.parties["large_bank"].head(3500).copy()


@pytest.fixture(scope="session")
def make_node():
    """Factory writing an institution folder with its table and node config."""
    return write_node


def write_node(
    home: Path,
    name: str,
    table: pd.DataFrame,
    max_epsilon: float = 5.0,
    allow_non_private: bool = False,
    consent: pd.DataFrame | None = None,
    capture_outgoing: bool = False,
) -> Path:
    """An institution folder: table, consent records (all granted unless given), keys, config.

    Returns the node config's path.
    """
    (home / "data").mkdir(parents=True, exist_ok=True)
    write_table(table, home / "data" / "customers.csv")
    if consent is None:
        consent = pd.DataFrame(
            {
                "customer_id": table["customer_id"],
                "purpose": "credit_risk_scoring",
                "granted_at": "2020-01-01",
                "expires_at": "",
                "withdrawn_at": "",
            }
        )
    write_table(consent, home / "data" / "consent.csv")
    keys = KeyRing(home / "keys", "credit_risk_scoring")
    if not keys.exists():
        keys.init(name)
    config = home / "node.toml"
    config.write_text(
        tomli_w.dumps(
            {
                "node": {"party": name, "data": "data/customers.csv", "state_dir": "state"},
                "privacy": {"max_epsilon": max_epsilon, "allow_non_private": allow_non_private},
                "deidentification": {"key_dir": "keys", "consent_table": "data/consent.csv"},
                "audit": {"capture_outgoing": capture_outgoing},
            }
        ),
        encoding="utf-8",
    )
    return config
