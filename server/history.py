"""What happened in each round of a run, party by party."""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class PartyOutcome:
    """One party's answer to one training round (aggregates only).

    Attributes:
        party: the institution.
        status: "trained", "refused", "failed", or "rejected" (the party trained and
            spent privacy, but the server dropped its update: see
            `fedscore.server.update_screening`).
        reason: why a round was refused, failed or rejected.
        num_examples: rows trained on (0 when not trained).
        epsilon_rdp, epsilon_prv: the party's cumulative epsilon on its data version
            after this round, as the party reported it (PRV NaN where it failed).
        delta: the δ of those epsilons, the party's (NaN where it read no data).
        noise_multiplier, sample_rate, steps: the round's DP-SGD mechanism.
        max_epsilon: the party's budget on this data version (its node config).
        deidentification: the node's de-identification summary (counts, k, key version).
        ledger_head: the node's signed ledger entry for this round.
        update_norm: L2 norm of (update − global model) over all arrays, as the server
            screened it or, under secure aggregation, the node checked it (NaN where no
            update was checked or it had NaN/Inf or wrong shapes).
    """

    party: str
    status: str
    reason: str = ""
    num_examples: int = 0
    epsilon_rdp: float = math.nan
    epsilon_prv: float = math.nan
    delta: float = math.nan
    noise_multiplier: float = math.nan
    sample_rate: float = math.nan
    steps: int = 0
    max_epsilon: float = math.nan
    note: str = ""
    deidentification: dict[str, Any] = field(default_factory=dict)
    ledger_head: dict[str, Any] = field(default_factory=dict)
    update_norm: float = math.nan


# Outcomes after which the party has spent the round's privacy: its update was used
# ("trained") or dropped by the server ("rejected"); the node's accountant counts both.
_SPENT = ("trained", "rejected")


@dataclass
class RoundHistory:
    """Everything recorded about one round.

    Attributes:
        server_round: 1-based round number.
        outcomes: each party's training outcome.
        aggregated: whether enough parties trained for the global model to change.
        federated_eval: each party's metrics of the new global model on its
            validation rows.
        consortium_test: metrics of the new global model on the consortium test set.
        seconds: wall time of the round.
    """

    server_round: int
    outcomes: dict[str, PartyOutcome] = field(default_factory=dict)
    aggregated: bool = False
    federated_eval: dict[str, dict[str, float]] = field(default_factory=dict)
    consortium_test: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class RunHistory:
    """All rounds of a run, in order."""

    rounds: list[RoundHistory] = field(default_factory=list)
    initial_consortium_test: dict[str, float] = field(default_factory=dict)

    def rename_party(self, label: str, party: str) -> None:
        """Record under `party` what earlier rounds recorded under the placeholder `label`.

        A node that never answered before it failed is known only by its node id
        ("node-…"); once it answers in a later round, its earlier rounds get its name.
        """
        for record in self.rounds:
            if label in record.outcomes and party not in record.outcomes:
                outcome = record.outcomes.pop(label)
                record.outcomes[party] = replace(outcome, party=party)
            if label in record.federated_eval and party not in record.federated_eval:
                record.federated_eval[party] = record.federated_eval.pop(label)

    @property
    def parties(self) -> list[str]:
        names: list[str] = []
        for record in self.rounds:
            names += [p for p in record.outcomes if p not in names]
        return names

    def _rounds_where(self, party: str, keep: Callable[[str], bool]) -> list[int]:
        """The rounds the party was in whose outcome status `keep` accepts."""
        return [
            r.server_round
            for r in self.rounds
            if party in r.outcomes and keep(r.outcomes[party].status)
        ]

    def refused_rounds(self, party: str) -> list[int]:
        """Rounds the party was in without its update being used: refused, failed, rejected."""
        return self._rounds_where(party, lambda status: status != "trained")

    def rejected_rounds(self, party: str) -> list[int]:
        """Rounds whose update from the party the server rejected."""
        return self._rounds_where(party, lambda status: status == "rejected")

    def trained_rounds(self, party: str) -> list[int]:
        """Rounds whose update from the party was accepted for aggregation."""
        return self._rounds_where(party, lambda status: status == "trained")

    def latest_spend(self, party: str) -> PartyOutcome | None:
        """The party's latest outcome that spent privacy (trained or rejected), or None."""
        for record in reversed(self.rounds):
            outcome = record.outcomes.get(party)
            if outcome is not None and outcome.status in _SPENT:
                return outcome
        return None

    def epsilon_series(self, party: str, mechanism: str) -> list[tuple[int, float]]:
        """(round, cumulative epsilon) for the rounds the party trained in.

        Rounds whose update the server rejected are included: the party spent them.
        """
        attribute = f"epsilon_{mechanism}"
        return [
            (r.server_round, getattr(r.outcomes[party], attribute))
            for r in self.rounds
            if party in r.outcomes and r.outcomes[party].status in _SPENT
        ]

    def ledger_heads(self) -> dict[str, list[dict[str, Any]]]:
        """Each party's signed ledger entries, round by round."""
        heads: dict[str, list[dict[str, Any]]] = {}
        for record in self.rounds:
            for party, outcome in record.outcomes.items():
                if outcome.ledger_head:
                    heads.setdefault(party, []).append(outcome.ledger_head)
        return heads

    def to_state(self) -> dict[str, Any]:
        """Everything, ledger heads included: what a checkpoint restores (`from_state`)."""
        return {
            "initial_consortium_test": self.initial_consortium_test,
            "rounds": [
                {**asdict(r), "outcomes": {p: asdict(o) for p, o in r.outcomes.items()}}
                for r in self.rounds
            ],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RunHistory:
        """The history `to_state` saved (JSON null read back as NaN where a number was)."""
        rounds = []
        for saved in state["rounds"]:
            outcomes = {
                party: PartyOutcome(**_numbers(outcome))
                for party, outcome in saved["outcomes"].items()
            }
            rounds.append(RoundHistory(**{**saved, "outcomes": outcomes}))
        return cls(rounds, dict(state.get("initial_consortium_test", {})))

    def as_dict(self) -> dict[str, Any]:
        return {
            "initial_consortium_test": self.initial_consortium_test,
            "rounds": [
                {
                    "round": r.server_round,
                    "aggregated": r.aggregated,
                    "seconds": r.seconds,
                    "parties": {
                        name: {k: v for k, v in asdict(o).items() if k != "ledger_head"}
                        for name, o in r.outcomes.items()
                    },
                    "federated_eval": r.federated_eval,
                    "consortium_test": r.consortium_test,
                }
                for r in self.rounds
            ],
        }


_FLOAT_FIELDS = {
    "epsilon_rdp",
    "epsilon_prv",
    "delta",
    "noise_multiplier",
    "sample_rate",
    "max_epsilon",
    "update_norm",
}


def _numbers(outcome: dict[str, Any]) -> dict[str, Any]:
    """JSON keeps NaN as null and infinity as "inf": back to floats."""
    restored = dict(outcome)
    for key in _FLOAT_FIELDS & restored.keys():
        value = restored[key]
        restored[key] = math.nan if value is None else float(value)
    return restored


def node_key(node_id: int) -> str:
    """A Flower node id (a random 64-bit integer) as a short text key.

    Written as a decimal number, about one id in twenty would be a 19-digit number passing
    the Luhn check: what data-loss-prevention scanners (ours included) report as a bank
    card. Base64url of its 8 bytes reads as no number at all.
    """
    return base64.urlsafe_b64encode(node_id.to_bytes(8, "big")).decode("ascii").rstrip("=")


def node_id_of(key: str) -> int:
    """The node id `node_key` wrote."""
    return int.from_bytes(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)), "big")
