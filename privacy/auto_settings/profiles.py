"""What the automatic rule assumes about each model: its clipping bound and step length.

A registry keyed by the model's registered name (`fedscore.core.models`); a model with no
entry gets `ModelProfile()`'s defaults, the settings the bundled task was tuned with.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class ModelProfile:
    """The automatic rule's settings for one model.

    Attributes:
        max_grad_norm: the per-sample clipping bound C. The bundled encodings have row
            norms around 5, so C = 4 clips few rows and keeps the calibration (see
            `RunConfig.max_grad_norm`).
        step_length: learning rate × C, the longest step one clipped gradient can move
            the weights, used when the noise is low (0.4 = the hand-set 0.1 at C = 4).
    """

    max_grad_norm: float = 4.0
    step_length: float = 0.4


#: Per registered model name. Logistic regression and the MLP were both tuned at
#: learning rate 0.1 and clipping 4 on the bundled task (benchmarks/quality.py).
MODEL_PROFILES: MappingProxyType[str, ModelProfile] = MappingProxyType(
    {"lr": ModelProfile(), "mlp": ModelProfile()}
)


def profile_for(model: str) -> ModelProfile:
    """The profile of `model` (its registered name); the defaults when it has none."""
    return MODEL_PROFILES.get(model, ModelProfile())
