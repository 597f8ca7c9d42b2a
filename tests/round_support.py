"""A node's round as the coordinator asks for it: the request and the initial model."""

from __future__ import annotations

from flwr.app import ArrayRecord, ConfigRecord

from fedscore.core import protocol
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.models import ModelSpec, build_model
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import TaskSchema


def round_request(
    schema: TaskSchema, run: RunConfig, server_round: int, run_id: str = "run-a"
) -> ConfigRecord:
    """The training instructions of one round of `run` (unsigned: for nodes that need none)."""
    return ConfigRecord(
        {
            **run.to_flower(),
            protocol.RUN_ID: run_id,
            protocol.SERVER_ROUND: server_round,
            protocol.SCHEMA_SHA256: schema.sha256,
            protocol.TASK: schema.name,
        }
    )


def initial_arrays(schema: TaskSchema, run: RunConfig) -> ArrayRecord:
    """A freshly initialized model of `run` for the task's features."""
    model = build_model(ModelSpec(run.model, FeatureEncoder(schema).n_features, run.hidden))
    return ArrayRecord(model.state_dict())
