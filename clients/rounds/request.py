"""The model a round starts from, as the node builds it from the coordinator's message."""

from __future__ import annotations

import numpy as np
import torch
from flwr.app import ArrayRecord

from fedscore.core.models import ModelSpec, build_model
from fedscore.core.protocol import MalformedMessage
from fedscore.core.runconfig import RunConfig

#: How errors name the coordinator's model.
_KIND = "global model"


def check_global_model(arrays: ArrayRecord, run: RunConfig, n_features: int) -> None:
    """Refuse a global model the run's model cannot start from, before any data is read.

    A hostile or broken coordinator could send arrays of other names or shapes (training
    would fail after the table was loaded) or values that are not finite (the node would
    spend budget on a round whose update is NaN). The arrays' names are not echoed.

    Args:
        arrays: the model the coordinator sent.
        run: the accepted run's settings: its model, hidden layers and seed.
        n_features: the width of the task's encoded feature vector.

    Raises:
        MalformedMessage: other arrays than the run's model has, another shape, or a
            value that is NaN or infinite.
    """
    expected = build_model(ModelSpec(run.model, n_features, run.hidden, run.seed)).state_dict()
    if set(arrays.keys()) != set(expected):
        raise MalformedMessage(
            _KIND,
            "arrays",
            f"are not the run's model's: {len(arrays)} array(s), the {run.model} model of "
            f"this task has {len(expected)} ({', '.join(expected)})",
        )
    for name, tensor in expected.items():
        values = arrays[name].numpy()
        if values.shape != tuple(tensor.shape):
            raise MalformedMessage(
                _KIND, name, f"has shape {values.shape}, the run's model {tuple(tensor.shape)}"
            )
        if not np.isfinite(values).all():
            raise MalformedMessage(_KIND, name, "holds values that are not finite (NaN or ±inf)")


def model_from(arrays: ArrayRecord, run: RunConfig, n_features: int) -> torch.nn.Module:
    """The global model the round starts from, as a torch module.

    Raises:
        MalformedMessage: the arrays cannot be the run's model (`check_global_model`).
    """
    check_global_model(arrays, run, n_features)
    model = build_model(ModelSpec(run.model, n_features, run.hidden, run.seed))
    model.load_state_dict(arrays.to_torch_state_dict())
    return model
