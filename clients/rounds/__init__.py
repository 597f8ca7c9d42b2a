"""What a node does when the coordinator asks: before round 1, train, evaluate.

A round goes: decode the request (`fedscore.core.protocol`) → admission and budget
check (`clients/admission.py`, `budget`) → the journal transaction (`transaction`) →
train or replay (`train`, `replay`) → encode the reply (`replies`).

- `preflight`: whether the node can take part in a run at all (nothing spent);
- `train`: one training round, in the order the privacy guarantee depends on;
- `evaluate`: federated evaluation, aggregates only;
- `context`: what a node answers with (`NodeContext`), and the record-level form of a
  typed handler (`RoundHandler`: `train_round`, `evaluate_round`).
"""

from fedscore.clients.rounds.context import NodeContext, RoundHandler
from fedscore.clients.rounds.evaluate import answer_evaluation, evaluate_round
from fedscore.clients.rounds.preflight import (
    Readiness,
    answer_readiness,
    check_readiness,
    readiness_reply,
)
from fedscore.clients.rounds.replay import global_model_sha256
from fedscore.clients.rounds.train import answer_training, train_round

__all__ = [
    "NodeContext",
    "Readiness",
    "RoundHandler",
    "answer_evaluation",
    "answer_readiness",
    "answer_training",
    "check_readiness",
    "evaluate_round",
    "global_model_sha256",
    "readiness_reply",
    "train_round",
]
