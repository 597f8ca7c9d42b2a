"""Federated evaluation's messages: the request and the node's scores (aggregates only)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from flwr.app import ConfigRecord, MetricRecord, MetricRecordValues, RecordDict

from fedscore.core.protocol import fields
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

        Raises:
            MalformedMessage: a key or a score is missing or of the wrong type.
        """
        scores = None
        if AUC in metrics:
            scores = Scores(
                auc=fields.number(metrics, AUC, kind),
                ks=fields.number(metrics, KS, kind),
                brier=fields.number(metrics, BRIER, kind),
                log_loss=fields.number(metrics, LOG_LOSS, kind),
            )
        return cls(int(fields.figure(metrics, NUM_EXAMPLES, kind)), scores)


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
