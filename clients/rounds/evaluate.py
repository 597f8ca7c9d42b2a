"""Federated evaluation at a node: the global model scored on its validation customers.

The run must be one the node accepts, as for training: evaluation answers with figures
computed from the node's customers. Only aggregate metrics leave the node.
"""

from __future__ import annotations

from flwr.app import ArrayRecord, ConfigRecord, MetricRecord, RecordDict

from fedscore.clients.admission import admit
from fedscore.clients.local_data import PartyDataLoader, load_party_data
from fedscore.clients.node import NodeConfig
from fedscore.clients.node_state import claim_state
from fedscore.clients.rounds.replies import party_record, status_of
from fedscore.clients.rounds.request import RoundRequest, model_from
from fedscore.core import protocol
from fedscore.core.errors import FedscoreError
from fedscore.core.metrics import score_metrics
from fedscore.core.models import predict_proba
from fedscore.core.schema import load_schema


def evaluate_round(
    node: NodeConfig,
    arrays: ArrayRecord,
    config: ConfigRecord,
    load_data: PartyDataLoader = load_party_data,
    app_sha256: str | None = None,
) -> RecordDict:
    """Score the global model on this node's validation rows; returns the reply's content.

    Args:
        node: this node's configuration.
        arrays: the global model to score.
        config: the coordinator's round instructions (and the signed run request).
        load_data: how the node loads its de-identified, encoded table.
        app_sha256: the app release the deployment's task runner verified.
    """
    try:
        request = RoundRequest.from_config(config)
        claim_state(node.state_dir, node.party)
        schema = load_schema(node.task_path)
        run = admit(node, schema, config, request.run, app_sha256).run
        data = load_data(node, schema)
    except FedscoreError as problem:
        return RecordDict(
            {
                protocol.METRICS: MetricRecord({protocol.NUM_EXAMPLES: 0}),
                protocol.PARTY: party_record(node, status_of(problem), str(problem)),
            }
        )
    model = model_from(arrays, run, data.valid_x.shape[1])
    metrics = score_metrics(data.valid_y, predict_proba(model, data.valid_x))
    return RecordDict(
        {
            protocol.METRICS: MetricRecord(
                {
                    protocol.NUM_EXAMPLES: metrics.n,
                    "auc": metrics.auc,
                    "ks": metrics.ks,
                    "brier": metrics.brier,
                    "log-loss": metrics.log_loss,
                }
            ),
            protocol.PARTY: party_record(node, protocol.EVALUATED),
        }
    )
