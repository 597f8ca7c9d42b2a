"""The vertical demo's two nodes, ready to run: configs, keys, the model owner.

On top of the tables and consent records of `demo.vertical`, writes under the root:

    bank/vertical.toml, loan_facilitator/vertical.toml   each node's vertical config
    <party>/keys/ledger/ed25519.pem                      its ledger key (owner-only)
    consortium/ledger_keys.toml                          both parties' ledger public keys
    consortium/vertical_pair.toml                        the pair, as a model owner names it
    consortium/model_owner/ed25519.pem                   the model owner's signing key
    runs/                                                the coordinator's run folders

Deterministic like the horizontal demo: existing keys and state are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tomli_w

from fedscore.core.run_request import OwnerIdentity, SignedRunRequest
from fedscore.core.signing import SigningKey
from fedscore.demo.vertical import (
    BANK,
    BANK_KEY,
    FACILITATOR,
    FACILITATOR_KEY,
    VerticalDemo,
    prepare_vertical_demo,
)
from fedscore.vertical.columns import BANK_COLUMNS, FACILITATOR_COLUMNS, JOINT_PURPOSE, LABEL
from fedscore.vertical.request import VerticalPair, VerticalTerms, sign_terms

OWNER = "model_owner"
#: The demo's two parties, their joint purpose and each one's columns.
PAIR = VerticalPair(
    label_holder=BANK,
    feature_holder=FACILITATOR,
    purpose=JOINT_PURPOSE,
    columns={BANK: list(BANK_COLUMNS), FACILITATOR: list(FACILITATOR_COLUMNS)},
)
#: Budgets of the demo nodes' policies.
MAX_RECORD_EPSILON = 5.0
MAX_LABEL_EPSILON = 8.0


@dataclass(frozen=True)
class VerticalConsortium:
    """A prepared vertical demo.

    Attributes:
        data: the tables' paths and counts.
        bank: the bank's vertical.toml.
        facilitator: the facilitator's vertical.toml.
        ledger_keys: the consortium's list of ledger public keys.
        owner: the model owner who signs runs.
        runs_dir: the coordinator's run folders.
        pair_file: the pair's parties, purpose and columns (`VerticalPair`), for a model
            owner who starts deployed runs without the parties' configs.
    """

    data: VerticalDemo
    bank: Path
    facilitator: Path
    ledger_keys: Path
    owner: OwnerIdentity
    runs_dir: Path
    pair_file: Path

    @property
    def node_configs(self) -> tuple[Path, Path]:
        return self.bank, self.facilitator

    def signed_run(
        self, run_id: str, training: dict[str, object], **terms: object
    ) -> SignedRunRequest:
        """A run of the two demo parties, signed by the demo's model owner.

        Args:
            run_id: the run's id (its folder name).
            training: the split model's settings (`VerticalSettings` fields; ε_label is
                `label_epsilon`, 2 unless given).
            terms: other `VerticalTerms` fields (reveal, test_share).
        """
        vertical = VerticalTerms.model_validate(
            {**PAIR.model_dump(), "training": {"label_epsilon": 2.0, **training}, **terms},
            strict=False,
        )
        return sign_terms(vertical, run_id, self.owner)


def prepare_vertical_consortium(root: str | Path, size: int | None = None) -> VerticalConsortium:
    """Write the demo's tables, keys and both node configs (see the module's layout).

    Args:
        root: the output folder.
        size: how many of the bundled rows (people) to use; None: all.
    """
    root = Path(root).resolve()
    data = prepare_vertical_demo(root, size=size)
    consortium = root / "consortium"
    owner = OwnerIdentity(OWNER, consortium / OWNER / "ed25519.pem")
    owner_key = SigningKey.load_or_create(owner.key).public_hex
    keys_path = consortium / "ledger_keys.toml"
    ledger_keys: dict[str, str] = {}
    parties = (
        (BANK, FACILITATOR, "label_holder", data.bank_table, BANK_KEY, "id_number", BANK_COLUMNS),
        (
            FACILITATOR,
            BANK,
            "feature_holder",
            data.facilitator_table,
            FACILITATOR_KEY,
            "id_card",
            FACILITATOR_COLUMNS,
        ),
    )
    configs: list[Path] = []
    for name, peer, role, table, key, identifier, columns in parties:
        home = root / name
        ledger_key = home / "keys" / "ledger" / "ed25519.pem"
        ledger_keys[name] = SigningKey.load_or_create(ledger_key).public_hex
        document = {
            "party": {"name": name, "role": role, "peer": peer},
            "data": {
                "table": str(table.relative_to(home)),
                "key_column": key,
                "identifier_column": identifier,
                "feature_columns": list(columns),
                "consent_table": str((table.parent / "consent.csv").relative_to(home)),
                "purpose": JOINT_PURPOSE,
                **({"label_column": LABEL} if role == "label_holder" else {}),
            },
            "state": {
                "dir": "state",
                "ledger_key": "keys/ledger/ed25519.pem",
                "consortium_keys": "../consortium/ledger_keys.toml",
            },
            "policy": {
                "model_owners": {OWNER: owner_key},
                "max_record_epsilon": MAX_RECORD_EPSILON,
                **({"max_label_epsilon": MAX_LABEL_EPSILON} if role == "label_holder" else {}),
            },
        }
        config = home / "vertical.toml"
        config.write_text(tomli_w.dumps(document), encoding="utf-8")
        configs.append(config)
    consortium.mkdir(parents=True, exist_ok=True)
    keys_path.write_text(tomli_w.dumps({"ledger_keys": ledger_keys}), encoding="utf-8")
    pair_file = consortium / "vertical_pair.toml"
    pair_file.write_text(tomli_w.dumps(PAIR.model_dump()), encoding="utf-8")
    return VerticalConsortium(
        data, configs[0], configs[1], keys_path, owner, root / "runs", pair_file
    )
