"""The terms of a vertical run, signed by a model owner, and each party's admission check.

A vertical run spends the bank's label budget and both parties' record-level budgets and
discloses the intersection, so a party takes part only in a run whose terms a model owner
it lists has signed, that names it in the role it holds, with the columns it declared,
for the purpose its customers consented to, in an intersection mode it accepts. The
terms travel inside the project's signed run request (`core/run_request.py`): the
coordinator relays them and cannot change one without breaking the signature.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fedscore.core.documents import read_toml
from fedscore.core.errors import ConfigError
from fedscore.core.owner_request import DEFAULT_VALID_HOURS
from fedscore.core.run_request import (
    SAFE_NAME_PATTERN,
    CoordinatorOptions,
    OwnerIdentity,
    ReleaseAttestation,
    SignedRunRequest,
    app_mismatch,
)
from fedscore.core.signing import canonical_json
from fedscore.core.typed_config import parse_section
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.roles import Reveal, Role

SafeName = Annotated[str, Field(pattern=SAFE_NAME_PATTERN)]

#: The task name vertical run requests carry.
VERTICAL_TASK = "vertical"


class _PairFields(BaseModel):
    """The fields of a pair, which the terms of each of its runs repeat (see `VerticalPair`)."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    label_holder: SafeName
    feature_holder: SafeName
    purpose: SafeName
    columns: dict[str, list[str]]
    test_share: float = Field(default=0.2, gt=0, le=0.5)


class VerticalPair(_PairFields):
    """The two parties of vertical runs and what each brings: the terms but the run's own.

    A model owner writes it down once, in a TOML file (`from_toml`; the model owner of a
    deployed consortium does not hold the parties' configs), or reads it from the two
    parties' configs (`from_configs`, simulation). Example::

        label_holder = "bank"
        feature_holder = "loan_facilitator"
        purpose = "joint_risk_control"
        test_share = 0.2                  # optional

        [columns]
        bank = ["LIMIT_BAL", "AGE"]
        loan_facilitator = ["PAY_0", "PAY_2"]

    Attributes:
        label_holder: the party that holds the label (the bank).
        feature_holder: the party that holds only features (the facilitator).
        purpose: the joint purpose customers must have consented to at both.
        columns: each party's feature columns, party → column names.
        test_share: the share of the intersection held out to test the joint model
            (chosen by join key, so both parties hold out the same customers).
    """

    @classmethod
    def from_toml(cls, path: Path) -> VerticalPair:
        """Read a pair file (see the class's example).

        Raises:
            ConfigError: unreadable, not TOML, or a setting missing, unknown or invalid
                (every problem named).
        """
        return parse_section(cls, read_toml(path, "vertical pair"), path)

    @classmethod
    def from_configs(cls, configs: Sequence[VerticalNodeConfig]) -> VerticalPair:
        """The pair the two parties' vertical configs describe.

        Raises:
            ConfigError: the configs are not one label holder's and one feature holder's.
        """
        holders = {config.role: config for config in configs}
        if len(configs) != 2 or set(holders) != {Role.LABEL_HOLDER, Role.FEATURE_HOLDER}:
            raise ConfigError("a vertical pair is one label_holder's and one feature_holder's")
        bank, facilitator = holders[Role.LABEL_HOLDER], holders[Role.FEATURE_HOLDER]
        return cls(
            label_holder=bank.party,
            feature_holder=facilitator.party,
            purpose=bank.purpose,
            columns={config.party: list(config.feature_columns) for config in configs},
        )

    def terms(self, training: Mapping[str, Any], reveal: Reveal = Reveal.BOTH) -> VerticalTerms:
        """The terms of a run of this pair.

        Args:
            training: the run's training settings (`VerticalSettings` fields).
            reveal: who learns the intersection.
        """
        return VerticalTerms(**self.model_dump(), reveal=reveal, training=dict(training))


class VerticalTerms(_PairFields):
    """What a vertical run does, as both parties verify it: its pair, and the run's own.

    Attributes:
        label_holder, feature_holder, purpose, columns, test_share: the pair's
            (`VerticalPair`).
        reveal: who learns the intersection.
        training: the split model's training settings (`VerticalSettings`: the model,
            each party's record-level ε, the label release's ε_label, ...).
    """

    reveal: Reveal = Reveal.BOTH
    training: dict[str, Any]

    def role_of(self, party: str) -> Role | None:
        """The role these terms give `party` (None: it takes no part)."""
        if party == self.label_holder:
            return Role.LABEL_HOLDER
        if party == self.feature_holder:
            return Role.FEATURE_HOLDER
        return None

    def sha256(self) -> str:
        """The terms' hash (what the run request's `schema_sha256` carries)."""
        return hashlib.sha256(canonical_json(self.model_dump(mode="json"))).hexdigest()


def sign_terms(
    terms: VerticalTerms,
    run_id: str,
    owner: OwnerIdentity,
    hours: float = DEFAULT_VALID_HOURS,
    *,
    app_sha256: str | None = None,
    release: ReleaseAttestation | None = None,
    coordinator: CoordinatorOptions | None = None,
) -> SignedRunRequest:
    """A run request for `terms`, signed by `owner`, valid for `hours`.

    Args:
        terms: what the run does.
        run_id: the run's identifier (its folder name at the coordinator and the nodes).
        owner: the model owner signing the request.
        hours: how long the request is valid.
        app_sha256: the app release the run must use (deployment; None: simulation).
        release: that release's attestation, if the owner has one.
        coordinator: where the coordinator writes the run and how long it waits for a
            reply (deployment; None: the defaults, simulation).
    """
    return owner.request(
        run_id,
        hours,
        app_sha256=app_sha256,
        release=release,
        task=VERTICAL_TASK,
        schema_sha256=terms.sha256(),
        parties=2,
        run=terms.model_dump(mode="json"),
        coordinator=coordinator or CoordinatorOptions(),
    )


def terms_of(signed: SignedRunRequest) -> VerticalTerms:
    """The vertical terms a signed request carries.

    Raises:
        ConfigError: the request is not a vertical one, or its terms do not parse or do
            not match the hash it was signed with.
    """
    request = signed.request
    if request.task != VERTICAL_TASK or request.parties != 2:
        raise ConfigError(f"run {request.run_id} is not a vertical run of two parties")
    try:
        terms = VerticalTerms.model_validate(dict(request.run), strict=False)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(
            f"run {request.run_id}: vertical terms: {where}: {first['msg']}"
        ) from error
    if terms.sha256() != request.schema_sha256:
        raise ConfigError(f"run {request.run_id}: the vertical terms do not match their hash")
    return terms


def admit(
    config: VerticalNodeConfig, signed: SignedRunRequest, now: datetime | None = None
) -> VerticalTerms:
    """The terms of `signed` if this node takes part in the run; every refusal reason if not.

    Args:
        config: the node's vertical config (its role, columns, policy).
        signed: the run request the coordinator relayed.
        now: the time to check the request's validity against (default: now).

    Raises:
        ConfigError: the request is not signed by an owner this node lists, has expired,
            names another app release than the one this deployed node runs, or its terms
            break this node's config or policy (every reason listed).
    """
    from fedscore.vertical.training.settings import VerticalSettings  # torch, Opacus

    signed.verify(config.model_owners, now or datetime.now(UTC))
    terms = terms_of(signed)
    problems: list[str] = []
    mismatch = app_mismatch(signed.request.app_sha256, config.verified_app)
    if mismatch:
        problems.append(mismatch)
    role = terms.role_of(config.party)
    if role is None:
        problems.append(f"the run does not name {config.party} as a party")
    elif role is not config.role:
        problems.append(f"the run makes {config.party} a {role.value}; it is a {config.role.value}")
    peer = terms.feature_holder if role is Role.LABEL_HOLDER else terms.label_holder
    if role is not None and peer != config.peer:
        problems.append(f"the run pairs {config.party} with {peer}; its peer is {config.peer}")
    if terms.purpose != config.purpose:
        problems.append(f"purpose '{terms.purpose}' is not this node's '{config.purpose}'")
    declared = terms.columns.get(config.party)
    if declared is not None and tuple(declared) != config.feature_columns:
        problems.append(f"the run's columns for {config.party} are not the ones its config lists")
    if terms.reveal not in config.reveal:
        problems.append(f"intersection mode '{terms.reveal.value}' is not accepted here")
    try:
        settings = VerticalSettings.from_mapping(dict(terms.training), "the run's training terms")
    except ConfigError as error:
        problems.append(str(error))
    else:
        own = (
            settings.bank_epsilon
            if config.role is Role.LABEL_HOLDER
            else settings.facilitator_epsilon
        )
        if not settings.private:
            problems.append("the run is not private; vertical runs here train with DP only")
        elif own > config.max_record_epsilon:
            problems.append(
                f"record-level ε {own:g} is above max_record_epsilon {config.max_record_epsilon:g}"
            )
        label_budget = config.max_label_epsilon
        label = settings.label_epsilon
        if config.role is Role.LABEL_HOLDER and label_budget is not None and label > label_budget:
            problems.append(f"ε_label {label:g} is above max_label_epsilon {label_budget:g}")
    if problems:
        raise ConfigError(
            f"{config.party} declines vertical run {signed.request.run_id}: " + "; ".join(problems)
        )
    return terms
