"""Scoring models, registered by name so a run config can choose one ("lr", "mlp")."""

# Importing the model modules registers them.
from fedscore.core.models import logistic, mlp  # noqa: F401
from fedscore.core.models.inference import predict_proba
from fedscore.core.models.registry import ModelSpec, available_models, build_model, register_model

__all__ = ["ModelSpec", "available_models", "build_model", "predict_proba", "register_model"]
