"""Before round 1: the server's readiness query and a node's answer (ready, or why not)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from flwr.app import ConfigRecord, MetricRecord, RecordDict

from fedscore.core.protocol import fields
from fedscore.core.protocol.outcome import NodeReply, PartyReport, party_of
from fedscore.core.protocol.records import CONFIG, METRICS, NUM_EXAMPLES, PARTY, Status
from fedscore.core.protocol.request import RoundRequest, instructions_of


@dataclass(frozen=True)
class ReadinessQuery:
    """The server's question before round 1: can you take part in this run?

    Attributes:
        request: the instructions every round of the run will carry (server round 0).
    """

    KIND: ClassVar[str] = "readiness query"

    request: RoundRequest

    @staticmethod
    def content(config: ConfigRecord) -> RecordDict:
        """A query's content from its CONFIG record, as it is (nothing decoded)."""
        return RecordDict({CONFIG: config})

    def to_record(self) -> RecordDict:
        """The query's content."""
        return self.content(self.request.to_record())

    @classmethod
    def from_record(cls, content: RecordDict) -> ReadinessQuery:
        """The query a message's content holds (it raises as `instructions_of`)."""
        return cls(instructions_of(content, cls.KIND))


@dataclass(frozen=True)
class ReadinessReply(NodeReply):
    """A node's answer before round 1: "ready", or its status with every reason why not.

    Attributes:
        party: who answers; status "ready" or the outcome a round would have, and the
            reasons ("; "-joined) in `reason`.
        training_rows: the rows it would train on (0 when its table could not be loaded).
    """

    KIND: ClassVar[str] = "readiness reply"

    party: PartyReport
    training_rows: int

    @property
    def ready(self) -> bool:
        """Whether the node can take part in the run."""
        return self.party.status == Status.READY

    def to_record(self) -> RecordDict:
        """The reply's content."""
        return RecordDict(
            {
                METRICS: MetricRecord({NUM_EXAMPLES: self.training_rows}),
                PARTY: self.party.to_record(),
            }
        )

    @classmethod
    def from_record(cls, content: RecordDict) -> ReadinessReply:
        """The reply a message's content holds.

        Raises:
            MalformedMessage: a record or key is missing or of the wrong type.
            UnknownProtocolVersion: the reply speaks another protocol version.
        """
        kind = cls.KIND
        party = party_of(content, kind)
        metrics = fields.record_of(content.metric_records, METRICS, kind)
        return cls(party, fields.integer(metrics, NUM_EXAMPLES, kind))
