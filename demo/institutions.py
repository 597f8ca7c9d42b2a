"""One demo institution's folder: its raw customer tables, keys and node config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

from fedscore.core.tabular import write_table
from fedscore.datasets.market import Institution
from fedscore.demo.identities import IdentifiedMarket
from fedscore.privacy.keys import KeyRing

# The demo's budgets per data version: room for a few runs at epsilon 1 each.
DEMO_MAX_EPSILON = {"large_bank": 4.0, "city_bank": 4.0, "loan_facilitator": 3.0}
PURPOSE = "credit_risk_scoring"


def write_institution(
    home: Path, institution: Institution, market: IdentifiedMarket, model_owners: dict[str, str]
) -> Path:
    """Write an institution's tables, create its keys once and write its node config.

    Args:
        home: the institution's folder.
        institution: the institution.
        market: the identified market its tables come from.
        model_owners: the model owners its policy accepts (name → public key hex).

    Returns:
        Its node config (``home/node.toml``).
    """
    (home / "data").mkdir(parents=True, exist_ok=True)
    write_table(market.parties[institution.name], home / "data" / "customers.csv")
    write_table(market.consents[institution.name], home / "data" / "consent.csv")
    keys = KeyRing(home / "keys", PURPOSE)
    if not keys.exists():
        keys.init(institution.name)
    config = home / "node.toml"
    config.write_text(tomli_w.dumps(node_document(institution, model_owners)), encoding="utf-8")
    return config


def node_document(institution: Institution, model_owners: dict[str, str]) -> dict[str, Any]:
    """The node config of a demo institution (paths relative to its folder).

    Args:
        institution: the institution.
        model_owners: the model owners its policy accepts (name → public key hex).

    Returns:
        The TOML document as a dict.
    """
    return {
        "node": {
            "party": institution.name,
            "display_name": institution.display_name,
            "kind": institution.kind,
            "data": "data/customers.csv",
            "state_dir": "state",
        },
        "privacy": {"max_epsilon": DEMO_MAX_EPSILON[institution.name]},
        "policy": {"model_owners": model_owners},
        "deidentification": {"key_dir": "keys", "consent_table": "data/consent.csv"},
    }
