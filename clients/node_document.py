"""The node config file (one TOML document per institution) as strict, typed sections.

Every table and key is declared: a misspelt key, a string where a boolean or a number
belongs, an infinite or NaN budget, an unknown table are errors naming the file, the key
path and the rule (`fedscore.core.typed_config`). `NodeConfig` is built from a validated
`NodeDocument`; `fedscore schema export` publishes its JSON Schema for editors.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from fedscore.clients.policy import NodePolicy
from fedscore.core.app_trust import AppTrust
from fedscore.core.typed_config import StrictSection
from fedscore.privacy.consent_basis import ConsentBasis

#: An institution's name: it becomes folder and file names, so letters, digits and "_".
PARTY_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
PartyName = Annotated[str, Field(pattern=PARTY_NAME_PATTERN)]
Port = Annotated[int, Field(ge=1, le=65535)]


class NodeSection(StrictSection):
    """`[node]`: whose data, where.

    Attributes:
        party: the institution's name in the consortium (lower-case letters, digits, "_").
        display_name: how reports name it.
        kind: what kind of institution it is.
        data: its raw customer table (CSV or Parquet), relative to the config file.
        task: the task schema (default: the bundled one).
        state_dir: its privacy state (accountants, ledger, accepted runs, reports).
        validation_fraction: share of customers held out for federated evaluation.
    """

    party: PartyName
    display_name: str = ""
    kind: Literal["bank", "loan_facilitator", "other"] = "bank"
    data: str
    task: str | None = None
    state_dir: str = "state"
    validation_fraction: float = Field(default=0.2, gt=0, lt=1)


class PrivacySection(StrictSection):
    """`[privacy]`: the budget.

    Attributes:
        max_epsilon: the most epsilon all runs together may spend in one budget epoch.
        allow_non_private: take part in non-private comparison runs (epsilon then
            becomes infinite on that data version).
        budget_epoch: the operator's label of the current budget.
    """

    max_epsilon: float = Field(gt=0)
    allow_non_private: bool = False
    budget_epoch: str = Field(default="default", min_length=1)


class DeidentificationSection(StrictSection):
    """`[deidentification]`: where the keys and the consent records are.

    Attributes:
        key_dir: the pseudonymization keys (default: `keys/` beside the state folder).
        consent_table: the consent records (default: the task's consent column, or the
            basis `[consent]` declares).
    """

    key_dir: str | None = None
    consent_table: str | None = None


class AuditSection(StrictSection):
    """`[audit]`: capture_outgoing writes every reply the node sends under state/outgoing/."""

    capture_outgoing: bool = False


class LedgerSection(StrictSection):
    """`[ledger]`: the hash of the ledger's chain (SM3 for the national algorithms)."""

    hash: Literal["sha256", "sm3"] = "sha256"


class VerticalSection(StrictSection):
    """`[vertical]`: the institution's `vertical.toml`, if it takes part in vertical runs.

    A vertical run is a bank and a loan facilitator modelling their shared customers.

    Attributes:
        config: the vertical config file (relative to this file).
    """

    config: str = Field(min_length=1)


class DeploymentSection(StrictSection):
    """`[deployment]`: where the coordinator is and how this node authenticates.

    Attributes:
        superlink: the coordinator's public address as host:port.
        root_certificates: the consortium CA certificate.
        auth_key: the institution's SuperNode private key (owner-only).
        runtime_port: the SuperNode's local runtime API port (one per node on a host).
        insecure_dev: plaintext and no authentication (development only).
    """

    superlink: str = Field(min_length=3)
    root_certificates: str | None = None
    auth_key: str | None = None
    runtime_port: Port = 9094
    insecure_dev: bool = False


class NodeDocument(StrictSection):
    """A whole node config file.

    Attributes:
        consent: the declared basis of processing (`[consent]`), when the consent was
            collected outside any table the node reads; excludes a consent table.
    """

    node: NodeSection
    privacy: PrivacySection
    deidentification: DeidentificationSection = DeidentificationSection()
    consent: ConsentBasis | None = None
    audit: AuditSection = AuditSection()
    ledger: LedgerSection = LedgerSection()
    policy: NodePolicy = NodePolicy()
    trust: AppTrust = AppTrust()
    vertical: VerticalSection | None = None
    deployment: DeploymentSection | None = None

    @model_validator(mode="after")
    def _one_consent_source(self) -> NodeDocument:
        if self.consent is not None and self.deidentification.consent_table is not None:
            raise ValueError(
                "[consent] declares a basis for every row and [deidentification] "
                "consent_table gives per-customer records: give one consent source, not both"
            )
        return self
