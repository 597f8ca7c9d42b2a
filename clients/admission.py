"""Whether a node takes part in a run: the signed request, the node's policy, its caps.

Every training and evaluation request passes here before the node reads any of its
data. The node accepts a run only if

- a model owner its policy lists signed the run request, and the request is valid now;
- in deployment, the request names the app release this very task runs (the task
  runner tells the app which release it verified);
- the run's task schema is the node's own, and the run is within the node's policy
  (task, epsilon per run, strategy, model, secure aggregation, minimum parties,
  non-private runs only where allowed);
- the coordinator's round settings are exactly the signed ones (the node trains with
  the signed settings in any case);
- the run's terms never change once accepted, and the epsilon the runs of a day and a
  month ask together stays within the node's caps.

A node without listed model owners outside deployment (one operator simulating every
party on one machine) accepts unsigned runs. Declined requests are recorded at the
node with their reason, which also goes back to the coordinator and the model owner.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from fedscore.clients.admission_store import AdmissionStore, EpsilonCaps, RunTerms
from fedscore.clients.node import NodeConfig
from fedscore.core.errors import ConfigError, FedscoreError
from fedscore.core.protocol import RoundRequest
from fedscore.core.run_request import SignedRunRequest, app_mismatch
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import TaskSchema
from fedscore.core.signing import canonical_json

#: How accepted runs without a signed request are recorded (simulation only).
UNSIGNED_OWNER = "(unsigned)"


class RunDeclined(FedscoreError):
    """The node does not take part in this run; the message says why."""


@dataclass(frozen=True)
class Admission:
    """A run the node accepted for this round.

    Attributes:
        run: the settings the node trains with (the signed ones, if signed).
        owner: the model owner who signed the request (None: an unsigned simulation).
        owner_key: that owner's public key (hex).
        request_sha256: the signed request's hash (named by the round's ledger entry).
    """

    run: RunConfig
    owner: str | None = None
    owner_key: str | None = None
    request_sha256: str | None = None

    def ledger_details(self) -> dict[str, object]:
        """What the round's ledger entry records about who authorized it."""
        return {
            "authorization": {
                "owner": self.owner,
                "owner_key": self.owner_key,
                "run_request_sha256": self.request_sha256,
            }
        }


def admit(
    node: NodeConfig,
    schema: TaskSchema,
    request: RoundRequest,
    app_sha256: str | None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> Admission:
    """Accept the run of this round, or raise `RunDeclined` (recorded at the node).

    Args:
        node: this node's configuration (policy, state).
        schema: the task schema this node holds.
        request: the coordinator's round instructions (may carry the signed request).
        app_sha256: the app release the task runner verified (None outside deployment).
        now: the time to judge validity and caps by (default: now).
        dry_run: check only, without recording the run as accepted (before round 1).
    """
    moment = now or datetime.now(UTC)
    store = AdmissionStore(node.accountant_db)
    verifying = app_sha256 is not None or bool(node.policy.model_owners)
    if not verifying:
        return _admit_unsigned(store, node, schema, request, moment, dry_run)
    if not request.run_request:
        reason = "unsigned run request: this node trains only for runs its model owners signed"
        raise _declined(store, moment, reason)
    try:
        signed = SignedRunRequest.decode(request.run_request)
    except ConfigError as error:
        raise _declined(store, moment, str(error)) from error
    order = signed.request
    try:
        owner = signed.verify(dict(node.policy.model_owners), moment)
        run = order.run_config()
    except ConfigError as error:
        raise _declined(store, moment, str(error), signed) from error
    problems = _problems(node, schema, order.task, order.schema_sha256, run, request.run)
    mismatch = app_mismatch(order.app_sha256, app_sha256)
    if mismatch:
        problems.insert(0, mismatch)
    terms = RunTerms(order.run_id, order.terms_sha256(), owner, signed.sha256, run.epsilon)
    _accept(store, node, moment, problems, terms, signed, dry_run)
    return Admission(run, owner, signed.public_key, signed.sha256)


def _admit_unsigned(
    store: AdmissionStore,
    node: NodeConfig,
    schema: TaskSchema,
    request: RoundRequest,
    moment: datetime,
    dry_run: bool,
) -> Admission:
    """A simulated node without listed owners: its policy and caps still apply."""
    run = request.run
    problems = _problems(node, schema, request.task, request.schema_sha256, run, run)
    terms_sha256 = hashlib.sha256(canonical_json(run.as_dict())).hexdigest()
    terms = RunTerms(request.run_id, terms_sha256, UNSIGNED_OWNER, "", run.epsilon)
    _accept(store, node, moment, problems, terms, None, dry_run)
    return Admission(run=run)


def _accept(
    store: AdmissionStore,
    node: NodeConfig,
    moment: datetime,
    problems: list[str],
    terms: RunTerms,
    signed: SignedRunRequest | None,
    dry_run: bool,
) -> None:
    if not problems:
        caps = EpsilonCaps(node.policy.max_epsilon_per_day, node.policy.max_epsilon_per_month)
        refusal = store.accept(terms, caps, moment, record=not dry_run)
        problems = [refusal] if refusal else []
    if problems:
        raise _declined(store, moment, "; ".join(problems), signed, terms.run_id)


def _problems(
    node: NodeConfig,
    schema: TaskSchema,
    task: str,
    schema_sha256: str,
    run: RunConfig,
    round_run: RunConfig,
) -> list[str]:
    found = node.policy.problems(run, task, schema.name, schema.purpose)
    if schema_sha256 != schema.sha256:
        found.append(
            f"task schema mismatch: this node holds {node.task_path.name} (sha256 "
            f"{schema.sha256[:12]}…), the request names {schema_sha256[:12]}…"
        )
    if not run.private and not node.allow_non_private:
        found.append("non-private training is disabled at this node (privacy.allow_non_private)")
    differing = [
        field.name
        for field in dataclasses.fields(RunConfig)
        if field.compare and getattr(run, field.name) != getattr(round_run, field.name)
    ]
    if differing:
        found.append(
            f"the coordinator's round settings differ from the signed request in {differing}"
        )
    return found


def _declined(
    store: AdmissionStore,
    moment: datetime,
    reason: str,
    signed: SignedRunRequest | None = None,
    run_id: str = "",
) -> RunDeclined:
    """Record a declined request; the error to raise."""
    request = signed.request if signed is not None else None
    run_id = request.run_id if request is not None else run_id
    owner = request.owner if request is not None else ""
    store.decline(run_id, owner, signed.sha256 if signed else "", reason, moment)
    return RunDeclined(reason)  # the reply names the party
