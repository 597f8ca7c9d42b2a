"""Integrated gradients (Sundararajan, Taly & Yan 2017) for a non-linear model (the MLP).

Contribution of column j: (x_j − baseline_j) · mean over α of ∂logit/∂x_j at
baseline + α (x − baseline), α at the midpoints of `steps` equal intervals of [0, 1]
(the midpoint Riemann sum). The contributions of a row sum to
logit(x) − logit(baseline) up to the integration error, which shrinks with `steps`.
The baseline is the same reference customer as for the exact linear contributions.
torch is imported when a model is explained this way, not when the method registers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fedscore.scoring.reasons.registry import register_attribution

if TYPE_CHECKING:
    from torch import nn

    from fedscore.core.artifact import ScoringModel


class IntegratedGradients:
    """Integrated gradients of a model's logit along the straight path from the baseline.

    Args:
        model: The model (one logit per row).
        baseline: The reference customer in the encoded space.
        steps: Riemann steps along the path.
    """

    def __init__(self, model: nn.Module, baseline: np.ndarray, steps: int) -> None:
        import torch

        self.model = model
        self.baseline = torch.as_tensor(np.asarray(baseline, dtype=np.float32))
        self.alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps

    def __call__(self, features: np.ndarray) -> np.ndarray:
        import torch

        x = torch.as_tensor(np.asarray(features, dtype=np.float32))
        delta = x - self.baseline
        # (steps, rows, columns): every point of every row's path in one batch.
        path = self.baseline + self.alphas[:, None, None] * delta[None]
        path.requires_grad_(True)
        logits = self.model(path.reshape(-1, x.shape[1])).sum()
        (gradients,) = torch.autograd.grad(logits, path)
        return (gradients.mean(dim=0) * delta).double().numpy()

    def per_feature(self, features: np.ndarray, grouping: np.ndarray) -> np.ndarray:
        per_feature: np.ndarray = self(features) @ grouping
        return per_feature


@register_attribution("integrated_gradients")
def integrated_gradients(
    model: ScoringModel, baseline: np.ndarray, steps: int
) -> IntegratedGradients:
    """Integrated gradients against `baseline` with `steps` Riemann steps."""
    return IntegratedGradients(model.model, baseline, steps)
