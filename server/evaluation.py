"""Server-side evaluation of the global model on the consortium test set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from flwr.app import ArrayRecord

from fedscore.core.encoding import FeatureEncoder
from fedscore.core.metrics import ScoreMetrics, score_metrics
from fedscore.core.models import ModelSpec, build_model, predict_proba
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import TaskSchema
from fedscore.core.validation import load_validated


class ConsortiumEvaluator:
    """Scores global models on the consortium test set, which no party trains on.

    Args:
        path: The test table: the task's features and label (identifiers, if any, are
            ignored); validated once, up front, so a bad file stops the run before any
            party spends privacy budget.
        schema: The task the model is trained for.
        run: Model architecture to rebuild from received arrays.
    """

    def __init__(self, path: Path, schema: TaskSchema, run: RunConfig) -> None:
        table = load_validated(path, schema, model_columns_only=True)
        encoder = FeatureEncoder(schema)
        self.features = encoder.transform(table)
        self.labels = table.labels
        self.spec = ModelSpec(run.model, encoder.n_features, run.hidden, run.seed)

    def probabilities(self, arrays: ArrayRecord) -> np.ndarray:
        model = build_model(self.spec)
        model.load_state_dict(arrays.to_torch_state_dict())
        return predict_proba(model, self.features)

    def __call__(self, arrays: ArrayRecord) -> ScoreMetrics:
        return score_metrics(self.labels, self.probabilities(arrays))
