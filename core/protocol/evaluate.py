"""Federated evaluation's messages: the request and the node's scores (aggregates only)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from flwr.app import ConfigRecord, MetricRecord, MetricRecordValues, RecordDict

from fedscore.core.protocol import fields
from fedscore.core.protocol.errors import MalformedMessage
from fedscore.core.protocol.outcome import NodeReply, PartyReport, party_of
from fedscore.core.protocol.records import AUC, BRIER, KS, LOG_LOSS, METRICS, NUM_EXAMPLES, PARTY
from fedscore.core.protocol.request import ModelRequest


class EvaluateRequest(ModelRequest):
    """The server's evaluation request: the global model and the round's instructions."""

    KIND: ClassVar[str] = "evaluate request"


@dataclass(frozen=True)
class Scores:
    """The global model's scores on a node's validation rows.

    Attributes:
        auc: area under the ROC curve.
        ks: Kolmogorov-Smirnov statistic.
        brier: Brier score.
        log_loss: mean log loss.
    """

    auc: float
    ks: float
    brier: float
    log_loss: float


@dataclass(frozen=True)
class Evaluation:
    """A global model scored on a node's validation rows (aggregates only).

    Attributes:
        num_examples: the validation rows scored (0 when not evaluated).
        scores: the scores (None when not evaluated).
    """

    num_examples: int
    scores: Scores | None = None

    def figures(self) -> dict[str, float]:
        """The figures by their wire names, as a run's history records them."""
        figures = {NUM_EXAMPLES: float(self.num_examples)}
        if self.scores is not None:
            s = self.scores
            figures |= {AUC: s.auc, KS: s.ks, BRIER: s.brier, LOG_LOSS: s.log_loss}
        return figures

    def to_record(self) -> MetricRecord:
        """The figures as a METRICS record (the row count as an integer)."""
        figures: dict[str, MetricRecordValues] = {**self.figures(), NUM_EXAMPLES: self.num_examples}
        return MetricRecord(figures)

    def to_config_record(self) -> ConfigRecord:
        """The figures as a ConfigRecord, as a training reply carries them.

        Flower's strategies require a training reply's one MetricRecord to be its own.
        """
        return ConfigRecord(dict(self.to_record()))

    @classmethod
    def from_record(cls, metrics: Mapping[str, Any], kind: str) -> Evaluation:
        """The figures a record holds; scores only where the node sent them.

        A node's figures go into the run's history, its plots and its report, so figures no
        honest node can compute are refused: AUC, KS and Brier outside [0, 1], a negative or
        infinite log loss, a negative row count (NaN is allowed: a figure not computed).

        Raises:
            MalformedMessage: a key or a score is missing, of the wrong type or out of range.
        """
        scores = None
        if AUC in metrics:
            scores = Scores(
                auc=_within(metrics, AUC, kind, 1.0),
                ks=_within(metrics, KS, kind, 1.0),
                brier=_within(metrics, BRIER, kind, 1.0),
                log_loss=_within(metrics, LOG_LOSS, kind, math.inf),
            )
        rows = fields.figure(metrics, NUM_EXAMPLES, kind)
        if not 0 <= rows < math.inf or rows != int(rows):
            raise MalformedMessage(kind, NUM_EXAMPLES, "must be a row count")
        return cls(int(rows), scores)


def _within(metrics: Mapping[str, Any], key: str, kind: str, most: float) -> float:
    """A score in [0, most) (or [0, 1] for most = 1), or NaN."""
    value = fields.number(metrics, key, kind)
    if math.isnan(value) or (0.0 <= value <= most and math.isfinite(value)):
        return value
    bound = "[0, 1]" if most == 1.0 else "finite and not negative"
    raise MalformedMessage(kind, key, f"must be {bound}")


@dataclass(frozen=True)
class EvaluateReply(NodeReply):
    """A node's answer to an evaluation request.

    Attributes:
        party: who answers and how it went ("evaluated", or why not).
        evaluation: the model's scores on the node's validation rows.
    """

    KIND: ClassVar[str] = "evaluate reply"

    party: PartyReport
    evaluation: Evaluation

    def to_record(self) -> RecordDict:
        """The reply's content."""
        return RecordDict({METRICS: self.evaluation.to_record(), PARTY: self.party.to_record()})

    @classmethod
    def from_record(cls, content: RecordDict) -> EvaluateReply:
        """The reply a message's content holds.

        Raises:
            MalformedMessage: a record, a key or a score is missing or of the wrong type.
            UnknownProtocolVersion: the reply speaks another protocol version.
        """
        metrics = fields.record_of(content.metric_records, METRICS, cls.KIND)
        party = party_of(content, cls.KIND)
        return cls(party, Evaluation.from_record(metrics, cls.KIND))
