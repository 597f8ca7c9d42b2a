"""Logistic regression: the scorecard model banks can explain feature by feature."""

from torch import nn

from fedscore.core.models.registry import ModelSpec, register_model


@register_model("lr")
def logistic_regression(spec: ModelSpec) -> nn.Module:
    """Logistic regression: one linear layer to the log-odds, starting at all zeros.

    Args:
        spec: the model's shape (its number of input features).
    """
    linear = nn.Linear(spec.n_features, 1)
    nn.init.zeros_(linear.weight)
    nn.init.zeros_(linear.bias)
    return nn.Sequential(linear)
