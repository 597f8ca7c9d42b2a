"""Whether a run produced what was asked: the model owner's exit status depends on it.

A run is not what was asked when a party declined it (the app is not a release it
approved, the request is unsigned or not signed by an owner it lists, or the run is
outside its policy), when a round could not be aggregated (fewer than `min_parties`
parties trained), or when it stopped before its last round. A party refusing a round
for its budget while the round still aggregates is an outcome, not a failure: it is in
the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fedscore.core.protocol import Status
from fedscore.core.runconfig import RunConfig
from fedscore.server.history import RunHistory


@dataclass(frozen=True)
class RunVerdict:
    """The problems that make a run fail (none: it did what was asked)."""

    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "problems": list(self.problems)}


def judge_run(history: RunHistory, run: RunConfig) -> RunVerdict:
    """The verdict on a finished run's history."""
    problems: list[str] = []
    for party in history.parties:
        reasons = sorted(
            {
                record.outcomes[party].reason
                for record in history.rounds
                if party in record.outcomes and record.outcomes[party].status == Status.DECLINED
            }
        )
        problems += [f"{party} declined the run: {reason}" for reason in reasons]
    for record in history.rounds:
        if not record.aggregated:
            trained = sum(o.status == Status.TRAINED for o in record.outcomes.values())
            problems.append(
                f"round {record.server_round} was not aggregated: {trained} "
                f"part{'y' if trained == 1 else 'ies'} trained, min_parties is {run.min_parties}"
            )
    if history.rounds and not any(record.aggregated for record in history.rounds):
        problems.append("no round was aggregated: the model is the initial one")
    if len(history.rounds) < run.rounds:
        problems.append(f"the run stopped after {len(history.rounds)} of {run.rounds} rounds")
    return RunVerdict(problems)
