"""An institution's node configuration: whose data, where, and how much privacy it may spend."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fedscore.clients.node_document import NodeDocument
from fedscore.clients.policy import NodePolicy
from fedscore.core.app_trust import AppTrust
from fedscore.core.documents import read_toml
from fedscore.core.errors import ConfigError
from fedscore.core.typed_config import parse_section
from fedscore.datasets import default_task_path
from fedscore.privacy.consent_basis import ConsentBasis
from fedscore.privacy.keys import LEDGER_KEY_FOLDER

# The one key a SuperNode's --node-config must carry: the node config file.
NODE_CONFIG_KEY = "node-config-file"
# Set by fedscore's deployment task runner (never by a run): the app release it verified.
VERIFIED_APP_KEY = "fedscore-verified-app-sha256"


@dataclass(frozen=True)
class NodeConfig:
    """Settings of one institution's client node (one TOML file per institution).

    Attributes:
        party: the institution's identifier in the consortium.
        display_name: how reports name it.
        kind: "bank" or "loan_facilitator".
        data_path: the institution's raw customer table (CSV or Parquet).
        task_path: the consortium's task schema.
        state_dir: where the node keeps its privacy state (accountants, later ledger).
        max_epsilon: the most epsilon all runs together may spend in one budget epoch.
        budget_epoch: the operator's label of the current budget. Every data version the
            node trains on draws from the budget of the epoch it was first used in (a
            refreshed table mostly holds the same people); only a new label, set by the
            operator, starts a new budget.
        allow_non_private: whether this node takes part in non-private comparison runs
            (they make its epsilon infinite on that data version).
        validation_fraction: share of customers held out for federated evaluation,
            chosen by a hash of the customer's pseudonym so it is stable across runs.
        key_dir: the institution's pseudonymization keys (kept apart from the data).
        consent_table: the institution's consent records (None: the task's consent column,
            or `consent_basis`).
        consent_basis: the basis of processing the operator declared for every row
            (`[consent]`), when consent was collected outside any table the node reads.
        capture_outgoing: write every reply the node sends under `state_dir/outgoing/`
            (an audit of what leaves the institution).
        ledger_hash: the hash algorithm of the ledger's chain, "sha256" or "sm3" (for
            deployments held to the national cryptographic algorithms).
        policy: the runs this node accepts (`[policy]`).
        trust: the app releases this node executes in deployment (`[trust]`).
        vertical_config: the institution's vertical config (`[vertical] config`), if any.
    """

    party: str
    data_path: Path
    state_dir: Path
    max_epsilon: float
    task_path: Path
    display_name: str = ""
    kind: str = "bank"
    allow_non_private: bool = False
    validation_fraction: float = 0.2
    key_dir: Path | None = None
    consent_table: Path | None = None
    consent_basis: ConsentBasis | None = None
    capture_outgoing: bool = False
    budget_epoch: str = "default"
    ledger_hash: str = "sha256"
    policy: NodePolicy = field(default_factory=NodePolicy)
    trust: AppTrust = field(default_factory=AppTrust)
    vertical_config: Path | None = None

    @property
    def accountant_db(self) -> Path:
        return self.state_dir / "privacy.sqlite"

    @property
    def keys(self) -> Path:
        """Where the keys are: the configured folder, else `keys/` beside the state folder."""
        return self.key_dir or self.state_dir.parent / "keys"

    @property
    def ledger_key(self) -> Path:
        """The node's Ed25519 ledger key (created on first use, owner-only)."""
        return self.keys / LEDGER_KEY_FOLDER / "ed25519.pem"

    def report_path(self, run_id: str) -> Path:
        """The de-identification report of one run."""
        return self.state_dir / "reports" / f"deidentification-{run_id}.json"

    @classmethod
    def from_toml(cls, path: str | Path) -> NodeConfig:
        """Read a node config; relative paths are relative to the config file.

        Raises:
            ConfigError: the file is unreadable, not TOML, or a setting is missing,
                unknown, of the wrong type or out of range (every problem named).
        """
        path = Path(path)
        document = parse_section(NodeDocument, read_toml(path, "node config"), path)
        return cls.from_document(document, path.parent)

    @classmethod
    def from_document(cls, document: NodeDocument, base: Path) -> NodeConfig:
        """The node config a validated document describes; paths relative to `base`."""

        def resolve(value: str) -> Path:
            candidate = Path(value).expanduser()
            return candidate if candidate.is_absolute() else (base / candidate).resolve()

        node, deid = document.node, document.deidentification
        return cls(
            party=node.party,
            display_name=node.display_name,
            kind=node.kind,
            data_path=resolve(node.data),
            task_path=resolve(node.task) if node.task else default_task_path(),
            state_dir=resolve(node.state_dir),
            max_epsilon=document.privacy.max_epsilon,
            allow_non_private=document.privacy.allow_non_private,
            validation_fraction=node.validation_fraction,
            key_dir=resolve(deid.key_dir) if deid.key_dir else None,
            consent_table=resolve(deid.consent_table) if deid.consent_table else None,
            consent_basis=document.consent,
            capture_outgoing=document.audit.capture_outgoing,
            budget_epoch=document.privacy.budget_epoch,
            ledger_hash=document.ledger.hash,
            policy=document.policy,
            trust=document.trust,
            vertical_config=resolve(document.vertical.config) if document.vertical else None,
        )

    @classmethod
    def from_flower_node_config(cls, node_config: dict[str, Any]) -> NodeConfig:
        """The node config file named by a SuperNode's `--node-config`."""
        path = node_config.get(NODE_CONFIG_KEY)
        if not path:
            raise ConfigError(
                f"this SuperNode was started without --node-config '{NODE_CONFIG_KEY}=\"...\"'"
            )
        return cls.from_toml(str(path))
