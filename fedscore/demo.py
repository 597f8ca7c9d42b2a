"""`fedscore demo`: a three-institution consortium on the bundled data set.

Layout written under the output directory (a stable contract):

    institutions/<name>/data/customers.csv   the institution's raw table, with the
                                             (synthetic) identities it really holds
    institutions/<name>/data/consent.csv     its customers' consent records
    institutions/<name>/keys/                its pseudonymization keys (owner-only)
    institutions/<name>/node.toml            its node config
    institutions/<name>/state/               its privacy state and de-identification reports
    institutions/<name>/keys/ledger/         its ledger signing key (Ed25519, owner-only)
    consortium/consortium_test.csv           the model owner's test set (features and
                                             label only: no identifiers)
    consortium/ledger_keys.toml              the consortium's key list: each institution's
                                             ledger public key, for audits
    consortium/model_owner/ed25519.pem       the model owner's signing key (every node's
                                             policy lists its public key)
    federation.toml                          which node config each simulated node plays
    runs/<run-id>/                           one directory per training run
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tomli_w

from fedscore.clients.federation import FederationManifest
from fedscore.clients.node import NodeConfig
from fedscore.core.run_request import OwnerIdentity
from fedscore.core.signing import SigningKey
from fedscore.core.tabular import write_table
from fedscore.datasets.identities import IDENTITY_COLUMNS, add_identities
from fedscore.datasets.market import CONSENT, CUSTOMER_KEY, INSTITUTIONS, split_market
from fedscore.privacy.keys import KeyRing

# The demo's budgets per data version: room for a few runs at epsilon 1 each.
DEMO_MAX_EPSILON = {"large_bank": 4.0, "city_bank": 4.0, "loan_facilitator": 3.0}
PURPOSE = "credit_risk_scoring"
#: The demo's one model owner: signs every run request; every institution lists it.
OWNER = "model_owner"


@dataclass(frozen=True)
class DemoFederation:
    """Paths of a prepared demo consortium."""

    root: Path
    manifest_path: Path
    consortium_test: Path
    runs_dir: Path
    ledger_keys: Path
    owner: OwnerIdentity

    @property
    def manifest(self) -> FederationManifest:
        return FederationManifest.load(self.manifest_path)

    def institution(self, name: str) -> Path:
        return self.root / "institutions" / name


def prepare_demo(root: str | Path) -> DemoFederation:
    """Write the institutions' tables, consent records, keys, node configs and the manifest.

    Deterministic: existing node state and keys are kept and the tables come out
    byte-identical, so a rerun spends from the same budgets, as at a real institution.
    """
    root = Path(root).resolve()
    market = add_identities(split_market())
    consortium = root / "consortium"
    owner = OwnerIdentity(OWNER, consortium / OWNER / "ed25519.pem")
    owner_public = SigningKey.load_or_create(owner.key).public_hex
    node_configs: list[Path] = []
    ledger_keys: dict[str, str] = {}
    for institution in INSTITUTIONS:
        home = root / "institutions" / institution.name
        (home / "data").mkdir(parents=True, exist_ok=True)
        write_table(market.parties[institution.name], home / "data" / "customers.csv")
        write_table(market.consents[institution.name], home / "data" / "consent.csv")
        keys = KeyRing(home / "keys", PURPOSE)
        if not keys.exists():
            keys.init(institution.name)
        config = home / "node.toml"
        config.write_text(
            tomli_w.dumps(
                {
                    "node": {
                        "party": institution.name,
                        "display_name": institution.display_name,
                        "kind": institution.kind,
                        "data": "data/customers.csv",
                        "state_dir": "state",
                    },
                    "privacy": {"max_epsilon": DEMO_MAX_EPSILON[institution.name]},
                    "policy": {"model_owners": {OWNER: owner_public}},
                    "deidentification": {"key_dir": "keys", "consent_table": "data/consent.csv"},
                }
            ),
            encoding="utf-8",
        )
        node_configs.append(config)
        signer = SigningKey.load_or_create(NodeConfig.from_toml(config).ledger_key)
        ledger_keys[institution.name] = signer.public_hex
    consortium.mkdir(parents=True, exist_ok=True)
    test_path = consortium / "consortium_test.csv"
    model_columns = [
        c
        for c in market.consortium_test.columns
        if c not in (CUSTOMER_KEY, *IDENTITY_COLUMNS, CONSENT)
    ]
    write_table(market.consortium_test[model_columns], test_path)
    keys_path = consortium / "ledger_keys.toml"
    keys_path.write_text(tomli_w.dumps({"ledger_keys": ledger_keys}), encoding="utf-8")
    manifest_path = root / "federation.toml"
    FederationManifest(tuple(node_configs)).save(manifest_path)
    return DemoFederation(root, manifest_path, test_path, root / "runs", keys_path, owner)
