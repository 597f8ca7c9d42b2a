"""What a node does when the coordinator asks: before round 1, train, evaluate.

- `preflight`: whether the node can take part in a run at all (nothing spent);
- `train`: one training round, in the order the privacy guarantee depends on;
- `evaluate`: federated evaluation, aggregates only;
- `request`, `budget`, `replay`, `replies`: decoding the instructions, the round's
  privacy cost, answering a round again at no cost, building replies.
"""

from fedscore.clients.rounds.evaluate import evaluate_round
from fedscore.clients.rounds.preflight import Readiness, check_readiness, readiness_reply
from fedscore.clients.rounds.replay import global_model_sha256
from fedscore.clients.rounds.train import train_round

__all__ = [
    "Readiness",
    "check_readiness",
    "evaluate_round",
    "global_model_sha256",
    "readiness_reply",
    "train_round",
]
