"""A vertical party's node config (`vertical.toml`): its role, its table, its limits.

A bank and a loan facilitator that model their shared customers each run a node with
such a file next to their data. Paths are relative to the file. Example (the bank)::

    [party]
    name = "bank"
    role = "label_holder"          # the facilitator: "feature_holder"
    peer = "loan_facilitator"      # the one party this node computes an intersection with

    [data]
    table = "data/customers.csv"
    key_column = "customer_id"     # the institution's own customer key
    identifier_column = "id_number"  # resident ID: the intersection's identifier
    label_column = "default.payment.next.month"  # label holder only
    feature_columns = ["LIMIT_BAL", "AGE"]
    consent_table = "data/consent.csv"
    purpose = "joint_risk_control"

    [state]
    dir = "state"
    ledger_key = "keys/ledger/ed25519.pem"
    consortium_keys = "../consortium/ledger_keys.toml"

    [policy]
    model_owners = { model_owner = "<hex public key>" }
    max_record_epsilon = 3.0       # record-level DP budget of this node's vertical data
    max_label_epsilon = 4.0        # label-DP budget (label holder), never added to the above
    reveal = ["both"]              # intersection modes accepted: "both", "label_holder"
    min_peer_set = 100             # the smallest set of the peer's this node answers
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fedscore.core.documents import read_toml
from fedscore.core.run_request import SAFE_NAME_PATTERN
from fedscore.core.typed_config import parse_section
from fedscore.vertical.roles import Reveal, Role

SafeName = Annotated[str, Field(pattern=SAFE_NAME_PATTERN)]
PublicKeyHex = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]
PositiveEpsilon = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class PartySection(_Strict):
    """`[party]`: who this node is and whom it pairs with (see the module's example)."""

    name: SafeName
    role: Literal["label_holder", "feature_holder"]
    peer: SafeName


class DataSection(_Strict):
    """`[data]`: the party's table, its columns and its consent records."""

    table: str
    key_column: str
    identifier_column: str
    label_column: str = ""
    feature_columns: list[str] = Field(min_length=1)
    consent_table: str
    purpose: SafeName


class StateSection(_Strict):
    """`[state]`: where the node keeps its privacy state and finds its keys."""

    dir: str = "state"
    ledger_key: str
    consortium_keys: str


class PolicySection(_Strict):
    """`[policy]`: who may start runs here and within which budgets."""

    model_owners: dict[str, PublicKeyHex] = Field(min_length=1)
    max_record_epsilon: PositiveEpsilon
    max_label_epsilon: PositiveEpsilon | None = None
    reveal: list[Literal["both", "label_holder"]] = ["both"]
    min_peer_set: int = Field(default=100, ge=1)


class VerticalNodeDocument(_Strict):
    """The file as written; `VerticalNodeConfig` is what the node uses."""

    party: PartySection
    data: DataSection
    state: StateSection
    policy: PolicySection

    @model_validator(mode="after")
    def _label_matches_role(self) -> VerticalNodeDocument:
        holds_label = self.party.role == Role.LABEL_HOLDER.value
        if holds_label and not self.data.label_column:
            raise ValueError("[data] label_column: a label holder names its label column")
        if not holds_label and self.data.label_column:
            raise ValueError("[data] label_column: a feature holder holds no label")
        if holds_label and self.policy.max_label_epsilon is None:
            raise ValueError("[policy] max_label_epsilon: a label holder sets its label budget")
        if self.party.peer == self.party.name:
            raise ValueError("[party] peer: a party cannot be its own peer")
        used = [self.data.key_column, self.data.identifier_column, self.data.label_column]
        overlap = sorted(set(self.data.feature_columns) & set(used))
        if overlap:
            raise ValueError(f"[data] feature_columns: {overlap} are key, identifier or label")
        if len(set(self.data.feature_columns)) != len(self.data.feature_columns):
            raise ValueError("[data] feature_columns: a column is listed twice")
        return self


@dataclass(frozen=True)
class VerticalNodeConfig:
    """A vertical party's settings, paths resolved.

    Attributes:
        party: this institution's name in the consortium's lists.
        role: the half of the model it holds.
        peer: the other party of its vertical runs.
        table: its customer table.
        key_column: its own customer key column.
        identifier_column: the resident-ID column the intersection is computed over.
        label_column: the label column ("" for a feature holder).
        feature_columns: the columns its sub-model reads.
        consent_table: its consent records.
        purpose: the joint purpose customers must have consented to.
        state_dir: its privacy state (journal, ledger, per-run secrets).
        ledger_key: its Ed25519 ledger key (signs ledger entries and channel offers).
        consortium_keys: the consortium's list of parties' ledger public keys.
        model_owners: who may start vertical runs here, name → public key (hex).
        max_record_epsilon: its record-level budget for the vertical data.
        max_label_epsilon: its label-DP budget (label holder only).
        reveal: the intersection modes it accepts.
        min_peer_set: the smallest set of the peer's this node answers: a peer that sent
            a handful of identifiers would learn whether those people are its customers.
        verified_app: the app release (sha256 hex) fedscore's task runner verified for
            the message being answered, which a run's request must name (deployment; not
            a setting of the file; None in simulation).
    """

    party: str
    role: Role
    peer: str
    table: Path
    key_column: str
    identifier_column: str
    label_column: str
    feature_columns: tuple[str, ...]
    consent_table: Path
    purpose: str
    state_dir: Path
    ledger_key: Path
    consortium_keys: Path
    model_owners: dict[str, str]
    max_record_epsilon: float
    max_label_epsilon: float | None
    reveal: tuple[Reveal, ...]
    min_peer_set: int = 100
    verified_app: str | None = None

    @classmethod
    def from_toml(cls, path: str | Path) -> VerticalNodeConfig:
        """Read a vertical node config; relative paths are relative to the file.

        Raises:
            ConfigError: unreadable, not TOML, or a setting missing, unknown, of the wrong
                type or inconsistent with the party's role (every problem named).
        """
        path = Path(path)
        document = parse_section(
            VerticalNodeDocument, read_toml(path, "vertical node config"), path
        )
        base = path.parent

        def resolve(value: str) -> Path:
            candidate = Path(value).expanduser()
            return candidate if candidate.is_absolute() else (base / candidate).resolve()

        party, data, state, policy = (
            document.party,
            document.data,
            document.state,
            document.policy,
        )
        return cls(
            party=party.name,
            role=Role(party.role),
            peer=party.peer,
            table=resolve(data.table),
            key_column=data.key_column,
            identifier_column=data.identifier_column,
            label_column=data.label_column,
            feature_columns=tuple(data.feature_columns),
            consent_table=resolve(data.consent_table),
            purpose=data.purpose,
            state_dir=resolve(state.dir),
            ledger_key=resolve(state.ledger_key),
            consortium_keys=resolve(state.consortium_keys),
            model_owners={name: key.lower() for name, key in policy.model_owners.items()},
            max_record_epsilon=policy.max_record_epsilon,
            max_label_epsilon=policy.max_label_epsilon,
            reveal=tuple(Reveal(mode) for mode in policy.reveal),
            min_peer_set=policy.min_peer_set,
        )

    @property
    def journal_path(self) -> Path:
        """The node's vertical privacy state (SQLite: budgets, ledger)."""
        return self.state_dir / "vertical.sqlite"

    def run_dir(self, run_id: str) -> Path:
        """The folder of one run's secrets and state (owner-only)."""
        return self.state_dir / "vertical-runs" / run_id
