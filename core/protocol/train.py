"""A training round's messages: the request (global model + instructions) and the reply.

The reply of a node that did not train (refused, failed, declined) has the same shape,
without an update and with the node's epsilon as it stands (NaN when no data was read).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import ClassVar

from flwr.app import ArrayRecord, MetricRecord, MetricRecordValues, RecordDict

from fedscore.core.protocol import fields
from fedscore.core.protocol.evaluate import Evaluation
from fedscore.core.protocol.outcome import NodeReply, PartyReport, party_of
from fedscore.core.protocol.records import (
    ARRAYS,
    DELTA,
    EPSILON_PRV,
    EPSILON_RDP,
    EVALUATION,
    MAX_EPSILON,
    METRICS,
    NOISE_MULTIPLIER,
    NUM_EXAMPLES,
    PARTY,
    SAMPLE_RATE,
    STEPS,
    TRAIN_LOSS,
    UPDATE_NORM,
)
from fedscore.core.protocol.request import ModelRequest


class TrainRequest(ModelRequest):
    """The server's training request: the global model and the round's instructions."""

    KIND: ClassVar[str] = "train request"


@dataclass(frozen=True)
class TrainMetrics:
    """The METRICS record of a training reply: aggregates only.

    Attributes:
        num_examples: rows trained on (the update's weight; 0 when not trained).
        max_epsilon: the party's budget on its data version.
        epsilon_rdp: its cumulative epsilon on that data version, by the RDP accountant
            (NaN when no data was read).
        epsilon_prv: the same by the PRV accountant (NaN where it failed).
        delta: the δ both epsilons are for (None when no data was read, or from a
            node older than this field).
        noise_multiplier: the round's DP-SGD noise (0 for a non-private run; None when
            not trained).
        sample_rate: the round's Poisson sampling rate (None when not trained).
        steps: the round's DP-SGD steps (None when not trained).
        train_loss: the mean training loss of the round (None when not trained).
        update_norm: L2 norm of (update − global model), checked at the node under
            secure aggregation (None otherwise).
    """

    KIND: ClassVar[str] = "train metrics"

    num_examples: int | float
    max_epsilon: float
    epsilon_rdp: float = math.nan
    epsilon_prv: float = math.nan
    delta: float | None = None
    noise_multiplier: float | None = None
    sample_rate: float | None = None
    steps: int | None = None
    train_loss: float | None = None
    update_norm: float | None = None

    def _figures(self) -> dict[str, int | float]:
        figures: dict[str, int | float | None] = {
            NUM_EXAMPLES: self.num_examples,
            MAX_EPSILON: float(self.max_epsilon),
            EPSILON_RDP: float(self.epsilon_rdp),
            EPSILON_PRV: float(self.epsilon_prv),
            DELTA: self.delta,
            NOISE_MULTIPLIER: self.noise_multiplier,
            SAMPLE_RATE: self.sample_rate,
            STEPS: self.steps,
            TRAIN_LOSS: self.train_loss,
            UPDATE_NORM: self.update_norm,
        }
        return {key: value for key, value in figures.items() if value is not None}

    def to_record(self) -> MetricRecord:
        """The reply's METRICS record."""
        figures: dict[str, MetricRecordValues] = {**self._figures()}
        return MetricRecord(figures)

    def to_json(self) -> str:
        """The figures as JSON text (how a node's journal keeps a released update's)."""
        return json.dumps(self._figures())

    @classmethod
    def from_json(cls, text: str) -> TrainMetrics:
        """Figures a journal kept (`to_json`).

        Raises:
            MalformedMessage: a figure is missing or of the wrong type.
        """
        return cls.from_record(MetricRecord(json.loads(text)))

    @classmethod
    def from_record(cls, record: MetricRecord, kind: str = KIND) -> TrainMetrics:
        """The figures a METRICS record holds.

        Raises:
            MalformedMessage: a figure is missing or of the wrong type.
        """
        return cls(
            num_examples=fields.figure(record, NUM_EXAMPLES, kind),
            max_epsilon=fields.number(record, MAX_EPSILON, kind),
            epsilon_rdp=fields.number(record, EPSILON_RDP, kind),
            epsilon_prv=fields.number(record, EPSILON_PRV, kind),
            delta=fields.optional_number(record, DELTA, kind),
            noise_multiplier=fields.optional_number(record, NOISE_MULTIPLIER, kind),
            sample_rate=fields.optional_number(record, SAMPLE_RATE, kind),
            steps=fields.optional_integer(record, STEPS, kind),
            train_loss=fields.optional_number(record, TRAIN_LOSS, kind),
            update_norm=fields.optional_number(record, UPDATE_NORM, kind),
        )


@dataclass(frozen=True)
class TrainReply(NodeReply):
    """A node's answer to a training request.

    Attributes:
        party: who answers and how the round went.
        metrics: the round's figures.
        update: the trained model (None when the node did not train or the update was
            rejected).
        evaluation: the *received* global model, the previous round's result, scored
            on the node's validation rows: federated evaluation folded into the next
            round's training message (None in round 1, or when no data was read).
    """

    KIND: ClassVar[str] = "train reply"

    party: PartyReport
    metrics: TrainMetrics
    update: ArrayRecord | None = None
    evaluation: Evaluation | None = None

    def rejected(self, reason: str, update_norm: float) -> TrainReply:
        """This reply with its update dropped for `reason` (the norm as checked)."""
        return dataclasses.replace(
            self,
            party=self.party.rejected(reason),
            metrics=dataclasses.replace(self.metrics, update_norm=update_norm),
            update=None,
        )

    def to_record(self) -> RecordDict:
        """The reply's content."""
        content = RecordDict({} if self.update is None else {ARRAYS: self.update})
        content[METRICS] = self.metrics.to_record()
        if self.evaluation is not None:
            content[EVALUATION] = self.evaluation.to_config_record()
        content[PARTY] = self.party.to_record()
        return content

    @classmethod
    def from_record(cls, content: RecordDict) -> TrainReply:
        """The reply a message's content holds.

        Raises:
            MalformedMessage: a record or key is missing or of the wrong type.
            UnknownProtocolVersion: the reply speaks another protocol version.
        """
        party = party_of(content, cls.KIND)
        return cls(
            party=party,
            metrics=TrainMetrics.from_record(
                fields.record_of(content.metric_records, METRICS, cls.KIND), cls.KIND
            ),
            update=content.array_records.get(ARRAYS),
            evaluation=(
                Evaluation.from_record(content.config_records[EVALUATION], cls.KIND)
                if EVALUATION in content.config_records
                else None
            ),
        )
