"""The trained model as a self-contained bundle: weights + task schema + run config.

`load_model(run_dir)` gives back a `ScoringModel` that validates and encodes a
raw table with the schema it was trained on and predicts default probabilities.
Weights are stored as a NumPy `.npz` (no pickle), the schema and run config as
the TOML/JSON they came from.

A model that is one linear layer (LR) scores with NumPy alone; torch is imported only
to build the module of any other model (the MLP) or to train. Scoring a small book
then starts in about a second instead of two.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fedscore.core.encoding import FeatureEncoder
from fedscore.core.errors import ConfigError
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import TaskSchema, parse_schema
from fedscore.core.validation import ValidatedTable, validate_frame

if TYPE_CHECKING:
    from torch import nn

MODEL_DIR = "model"
WEIGHTS = "weights.npz"
SCHEMA = "task.toml"
RUN_CONFIG = "run_config.json"


@dataclass
class ScoringModel:
    """A trained joint model ready to score customers.

    Attributes:
        weights: the model's arrays by name (its torch state dict, as NumPy arrays).
        schema: the task schema the model was trained under.
        run: the run configuration that trained it.
    """

    weights: dict[str, np.ndarray]
    schema: TaskSchema
    run: RunConfig

    @classmethod
    def of_module(cls, model: nn.Module, schema: TaskSchema, run: RunConfig) -> ScoringModel:
        """The scoring model of a torch module's current weights."""
        arrays = {name: t.detach().cpu().numpy() for name, t in model.state_dict().items()}
        return cls(arrays, schema, run)

    @property
    def encoder(self) -> FeatureEncoder:
        return FeatureEncoder(self.schema)

    @property
    def linear(self) -> tuple[np.ndarray, float] | None:
        """(coefficients, intercept) of a model that is one linear layer, else None."""
        if len(self.weights) != 2:
            return None
        matrices = [a for a in self.weights.values() if a.ndim == 2 and a.shape[0] == 1]
        biases = [a for a in self.weights.values() if a.ndim == 1 and a.shape == (1,)]
        if len(matrices) != 1 or len(biases) != 1:
            return None
        return matrices[0].reshape(-1).astype(np.float64), float(biases[0][0])

    @functools.cached_property
    def model(self) -> nn.Module:
        """The torch module (one logit per row), built on first use."""
        import torch

        from fedscore.core.models import ModelSpec, build_model

        spec = ModelSpec(self.run.model, self.encoder.n_features, self.run.hidden)
        module = build_model(spec)
        module.load_state_dict({name: torch.from_numpy(a) for name, a in self.weights.items()})
        module.eval()
        return module

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Log-odds of default per row of an encoded feature matrix (float64).

        An LR's are computed in float64 with NumPy; other models run their torch module in
        float32, as they were trained.
        """
        linear = self.linear
        if linear is not None:
            coefficients, intercept = linear
            logits: np.ndarray = np.asarray(features, dtype=np.float64) @ coefficients + intercept
            return logits
        import torch

        rows = np.ascontiguousarray(features, dtype=np.float32)
        with torch.no_grad():
            result: np.ndarray = self.model(torch.from_numpy(rows)).squeeze(-1).double().numpy()
        return result

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Probability of default per row of an encoded feature matrix."""
        probability: np.ndarray = 1.0 / (1.0 + np.exp(-self.logits(features)))
        return probability

    def predict_proba(self, table: pd.DataFrame | ValidatedTable) -> np.ndarray:
        """Probability of default for each row of a raw (or validated) table."""
        if isinstance(table, pd.DataFrame):
            table = validate_frame(
                table, self.schema, source="<scoring input>", model_columns_only=True
            )
        return self.probabilities(self.encoder.transform(table))


def save_model(directory: str | Path, model: nn.Module, schema: TaskSchema, run: RunConfig) -> Path:
    """Write the bundle into `directory/model/`; returns that folder."""
    target = Path(directory) / MODEL_DIR
    target.mkdir(parents=True, exist_ok=True)
    weights: dict[str, Any] = ScoringModel.of_module(model, schema, run).weights
    np.savez(target / WEIGHTS, **weights)
    (target / SCHEMA).write_text(schema.raw_toml, encoding="utf-8")
    (target / RUN_CONFIG).write_text(json.dumps(run.as_dict(), indent=2), encoding="utf-8")
    return target


def load_model(run_dir: str | Path) -> ScoringModel:
    """Load the model of a run directory (or of its `model/` folder) in one call.

    Raises:
        ConfigError: not a model bundle, or its weights do not fit its run config.
    """
    folder = Path(run_dir)
    if (folder / MODEL_DIR).is_dir():
        folder = folder / MODEL_DIR
    missing = [f for f in (WEIGHTS, SCHEMA, RUN_CONFIG) if not (folder / f).is_file()]
    if missing:
        raise ConfigError(f"{folder}: not a fedscore model bundle (missing {missing})")
    schema = parse_schema(
        (folder / SCHEMA).read_text(encoding="utf-8"), source=str(folder / SCHEMA)
    )
    run = RunConfig.from_mapping(json.loads((folder / RUN_CONFIG).read_text(encoding="utf-8")))
    with np.load(folder / WEIGHTS, allow_pickle=False) as arrays:
        weights = {name: arrays[name] for name in arrays.files}
    model = ScoringModel(weights, schema, run)
    n_features = model.encoder.n_features
    linear = model.linear
    if linear is None:
        try:
            model.model  # noqa: B018 (builds the module now: its weights are checked)
        except RuntimeError as error:
            raise ConfigError(
                f"{folder / WEIGHTS}: the weights do not fit a {run.model} over {n_features} "
                f"encoded columns ({type(error).__name__})"
            ) from None
    elif linear[0].shape != (n_features,):
        raise ConfigError(
            f"{folder / WEIGHTS}: the weights do not fit an LR over {n_features} encoded columns"
        )
    return model
