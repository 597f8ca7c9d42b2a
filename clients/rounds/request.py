"""The model a round starts from, as the node builds it from the coordinator's message."""

from __future__ import annotations

import torch
from flwr.app import ArrayRecord

from fedscore.core.models import ModelSpec, build_model
from fedscore.core.runconfig import RunConfig


def model_from(arrays: ArrayRecord, run: RunConfig, n_features: int) -> torch.nn.Module:
    """The global model the round starts from, as a torch module."""
    model = build_model(ModelSpec(run.model, n_features, run.hidden, run.seed))
    model.load_state_dict(arrays.to_torch_state_dict())
    return model
