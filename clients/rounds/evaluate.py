"""Federated evaluation at a node: a global model scored on its validation customers.

Two ways in: the final model of a run comes in an evaluation request of its own; every
earlier round's model comes back as the next round's training request, whose handler
scores it before training (`scored`), so a round is one exchange, not two. The run
must be one the node accepts, as for training: evaluation answers with figures computed
from the node's customers. Only aggregate metrics leave the node.
"""

from __future__ import annotations

from flwr.app import ArrayRecord, RecordDict

from fedscore.clients.admission import admit
from fedscore.clients.local_data import PartyData
from fedscore.clients.rounds.context import NodeContext, RoundHandler, claimed_request
from fedscore.clients.rounds.replies import status_of
from fedscore.clients.rounds.request import check_global_model, model_from
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.errors import FedscoreError
from fedscore.core.metrics import score_metrics
from fedscore.core.models import predict_proba
from fedscore.core.protocol import (
    EvaluateReply,
    EvaluateRequest,
    Evaluation,
    PartyReport,
    Scores,
    Status,
)
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import load_schema


def scored(model: ArrayRecord, run: RunConfig, data: PartyData) -> Evaluation:
    """The global model `model` scored on the party's validation rows.

    Rows of a single class (or none) cannot be scored: the evaluation then carries their
    count and no scores, and a training round that folds it in still trains.
    """
    if len(set(data.valid_y.tolist())) < 2:
        return Evaluation(len(data.valid_y))
    metrics = score_metrics(
        data.valid_y, predict_proba(model_from(model, run, data.valid_x.shape[1]), data.valid_x)
    )
    scores = Scores(auc=metrics.auc, ks=metrics.ks, brier=metrics.brier, log_loss=metrics.log_loss)
    return Evaluation(metrics.n, scores)


def answer_evaluation(context: NodeContext, content: RecordDict) -> EvaluateReply:
    """The reply to evaluation request `content`: the model scored on the validation rows."""
    node = context.node
    try:
        request = claimed_request(context, content, EvaluateRequest)
        schema = load_schema(node.task_path)
        run = admit(node, schema, request.request, context.app_sha256).run
        check_global_model(request.model, run, FeatureEncoder(schema).n_features)
        data = context.load_data(node, schema)
    except FedscoreError as problem:
        return EvaluateReply(
            PartyReport(node.party, status_of(problem), str(problem)), Evaluation(0)
        )
    return EvaluateReply(
        PartyReport(node.party, Status.EVALUATED), scored(request.model, run, data)
    )


evaluate_round = RoundHandler(answer_evaluation, EvaluateRequest)
