"""Turning a model's logits into default probabilities."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def predict_proba(model: nn.Module, features: np.ndarray) -> np.ndarray:
    """Probability of default per row of an encoded feature matrix."""
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)))
    return torch.sigmoid(logits.squeeze(-1).double()).numpy()
