"""Logistic regression: the scorecard model banks can explain feature by feature."""

from torch import nn

from fedscore.core.models.registry import ModelSpec, register_model


@register_model("lr")
def logistic_regression(spec: ModelSpec) -> nn.Module:
    model = nn.Sequential(nn.Linear(spec.n_features, 1))
    nn.init.zeros_(model[0].weight)
    nn.init.zeros_(model[0].bias)
    return model
