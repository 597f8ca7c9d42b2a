"""The vertical protocol's messages between the relay (coordinator) and a party's node.

Every vertical exchange is a Flower `query.vertical` message whose one ConfigRecord
(`VERTICAL_RECORD`) names the stage and carries, at most, the signed run request, a
step number and one opaque blob: the peer's payload, sealed end to end (`channel`), which
the relay passes on without being able to read it. A node's reply carries its party
name, a status, its own sealed payload for the peer, and public facts (sizes, the
intersection commitment, test figures). Keys are named here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flwr.app import ConfigRecord, RecordDict

from fedscore.core.protocol.errors import MalformedMessage

#: Flower message type of every vertical exchange.
MESSAGE_TYPE = "query.vertical"
#: The one record of a vertical message.
VERTICAL_RECORD = "vertical"


class Stage(StrEnum):
    """The protocol's steps, in order (see `relay`)."""

    ADMIT = "admit"  # verify the run, load the table, offer a channel key
    PSI_START = "psi-start"  # open the channel, send the blinded set
    PSI_ANSWER = "psi-answer"  # blind the peer's set
    PSI_FINISH = "psi-finish"  # intersect; ledger the disclosure
    SETUP = "setup"  # label release, training charge, disclosure record
    FORWARD = "forward"  # feature holder: apply gradients, send contributions
    STEP = "step"  # label holder: one step; send gradients
    EVALUATE = "evaluate"  # contributions / metrics on the held-out customers
    CLOSE = "close"  # erase the run's channel and PSI secrets


class Outcome(StrEnum):
    """A node's answer to a stage."""

    DONE = "done"
    DECLINED = "declined"  # not this node's run (policy, signature, budget)
    FAILED = "failed"  # bad input or a broken peer message; nothing was released


@dataclass(frozen=True)
class StageRequest:
    """Relay → node.

    Attributes:
        stage: the step to take.
        run_id: the run it belongs to.
        request: the signed run request (transport form), at `ADMIT`; else "".
        step: the training step (`FORWARD`, `STEP`); else 0.
        sealed: the peer's sealed payload for this node (b"" when none).
    """

    stage: Stage
    run_id: str
    request: str = ""
    step: int = 0
    sealed: bytes = b""

    def to_record(self) -> RecordDict:
        return RecordDict(
            {
                VERTICAL_RECORD: ConfigRecord(
                    {
                        "stage": self.stage.value,
                        "run-id": self.run_id,
                        "request": self.request,
                        "step": self.step,
                        "sealed": self.sealed,
                    }
                )
            }
        )

    @classmethod
    def from_record(cls, content: RecordDict) -> StageRequest:
        """Read a relay's request.

        Raises:
            MalformedMessage: a key is missing or of the wrong type, or the stage is unknown.
        """
        record = _record(content)
        try:
            stage = Stage(_typed(record, "stage", str))
        except ValueError as error:
            raise MalformedMessage("vertical message", "stage", "is not a stage") from error
        return cls(
            stage=stage,
            run_id=_typed(record, "run-id", str),
            request=_typed(record, "request", str),
            step=_typed(record, "step", int),
            sealed=_typed(record, "sealed", bytes),
        )


@dataclass(frozen=True)
class StageReply:
    """Node → relay.

    Attributes:
        party: the replying party's name.
        outcome: done, declined or failed.
        reason: why not done ("" when done); never holds a customer's value.
        sealed: this node's sealed payload for the peer (b"" when none).
        facts: public figures of the stage (sizes, commitment, metrics, ε): numbers
            and short texts only.
    """

    party: str
    outcome: Outcome
    reason: str = ""
    sealed: bytes = b""
    facts: dict[str, int | float | str] = field(default_factory=dict)

    def to_record(self) -> RecordDict:
        values: dict[str, Any] = {
            "party": self.party,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "sealed": self.sealed,
        }
        values.update({f"fact.{key}": value for key, value in self.facts.items()})
        return RecordDict({VERTICAL_RECORD: ConfigRecord(values)})

    @classmethod
    def from_record(cls, content: RecordDict) -> StageReply:
        """Read a node's reply.

        Raises:
            MalformedMessage: a key is missing, of the wrong type, or the outcome unknown.
        """
        record = _record(content)
        try:
            outcome = Outcome(_typed(record, "outcome", str))
        except ValueError as error:
            raise MalformedMessage("vertical reply", "outcome", "is not an outcome") from error
        facts: dict[str, int | float | str] = {}
        for key, value in record.items():
            if key.startswith("fact."):
                if isinstance(value, bool) or not isinstance(value, int | float | str):
                    raise MalformedMessage("vertical reply", key, "is not a figure or text")
                facts[key[5:]] = value
        return cls(
            party=_typed(record, "party", str),
            outcome=outcome,
            reason=_typed(record, "reason", str),
            sealed=_typed(record, "sealed", bytes),
            facts=facts,
        )


def _record(content: RecordDict) -> ConfigRecord:
    record = content.get(VERTICAL_RECORD)
    if not isinstance(record, ConfigRecord):
        raise MalformedMessage("vertical message", VERTICAL_RECORD, "is not a config record")
    return record


def _typed(record: ConfigRecord, key: str, kind: type) -> Any:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise MalformedMessage("vertical message", key, f"must be {kind.__name__}")
    return value
