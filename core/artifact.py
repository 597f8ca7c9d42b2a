"""The trained model as a self-contained bundle: weights + task schema + run config.

`load_model(run_dir)` gives back a `ScoringModel` that validates and encodes a
raw table with the schema it was trained on and predicts default probabilities.
Weights are stored as a NumPy `.npz` (no pickle), the schema and run config as
the TOML/JSON they came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from fedscore.core.encoding import FeatureEncoder
from fedscore.core.errors import ConfigError
from fedscore.core.models import ModelSpec, build_model, predict_proba
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import TaskSchema, parse_schema
from fedscore.core.validation import ValidatedTable, validate_frame

MODEL_DIR = "model"
WEIGHTS = "weights.npz"
SCHEMA = "task.toml"
RUN_CONFIG = "run_config.json"


@dataclass
class ScoringModel:
    """A trained joint model ready to score customers.

    Attributes:
        model: the torch module (one logit per row).
        schema: the task schema the model was trained under.
        run: the run configuration that trained it.
    """

    model: nn.Module
    schema: TaskSchema
    run: RunConfig

    @property
    def encoder(self) -> FeatureEncoder:
        return FeatureEncoder(self.schema)

    def predict_proba(self, table: pd.DataFrame | ValidatedTable) -> np.ndarray:
        """Probability of default for each row of a raw (or validated) table."""
        if isinstance(table, pd.DataFrame):
            table = validate_frame(
                table, self.schema, source="<scoring input>", model_columns_only=True
            )
        return predict_proba(self.model, self.encoder.transform(table))


def save_model(directory: str | Path, model: nn.Module, schema: TaskSchema, run: RunConfig) -> Path:
    """Write the bundle into `directory/model/`; returns that folder."""
    target = Path(directory) / MODEL_DIR
    target.mkdir(parents=True, exist_ok=True)
    arrays = {name: tensor.detach().cpu().numpy() for name, tensor in model.state_dict().items()}
    np.savez(target / WEIGHTS, **arrays)
    (target / SCHEMA).write_text(schema.raw_toml, encoding="utf-8")
    (target / RUN_CONFIG).write_text(json.dumps(run.as_dict(), indent=2), encoding="utf-8")
    return target


def load_model(run_dir: str | Path) -> ScoringModel:
    """Load the model of a run directory (or of its `model/` folder) in one call."""
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
    model = build_model(ModelSpec(run.model, FeatureEncoder(schema).n_features, run.hidden))
    with np.load(folder / WEIGHTS, allow_pickle=False) as weights:
        model.load_state_dict({name: torch.from_numpy(weights[name]) for name in weights.files})
    model.eval()
    return ScoringModel(model=model, schema=schema, run=run)
