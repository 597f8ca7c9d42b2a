"""A round's instructions as the node reads them from the coordinator's message."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from flwr.app import ArrayRecord, ConfigRecord

from fedscore.core import protocol
from fedscore.core.models import ModelSpec, build_model
from fedscore.core.run_request import RUN_REQUEST_KEY, check_safe_name
from fedscore.core.runconfig import RunConfig


@dataclass(frozen=True)
class RoundRequest:
    """The coordinator's instructions for one round.

    Attributes:
        run: the run settings the coordinator states (a signed request's settings
            replace them at admission).
        run_id: the run's identifier (it names folders: checked to be safe).
        server_round: the round's number.
        schema_sha256: the task schema the coordinator uses.
    """

    run: RunConfig
    run_id: str
    server_round: int
    schema_sha256: str

    @classmethod
    def from_config(cls, config: ConfigRecord) -> RoundRequest:
        """The round's instructions.

        Raises:
            ConfigError: a run id that could not name a folder, or invalid run settings.
        """
        flat = dict(config)
        flat.pop(RUN_REQUEST_KEY, None)
        return cls(
            run_id=check_safe_name(str(flat.pop(protocol.RUN_ID)), "run id"),
            server_round=int(flat.pop(protocol.SERVER_ROUND)),
            schema_sha256=str(flat.pop(protocol.SCHEMA_SHA256)),
            run=RunConfig.from_flower({k: v for k, v in flat.items() if k != protocol.TASK}),
        )


def model_from(arrays: ArrayRecord, run: RunConfig, n_features: int) -> torch.nn.Module:
    """The global model the round starts from, as a torch module."""
    model = build_model(ModelSpec(run.model, n_features, run.hidden, run.seed))
    model.load_state_dict(arrays.to_torch_state_dict())
    return model
