"""Multi-layer perceptron without batch norm (Opacus cannot clip per sample through it)."""

from torch import nn

from fedscore.core.models.registry import ModelSpec, register_model


@register_model("mlp")
def multilayer_perceptron(spec: ModelSpec) -> nn.Module:
    """A multilayer perceptron: tanh hidden layers of `spec.hidden` widths, then the log-odds.

    Args:
        spec: the model's shape (input features, hidden layer widths).
    """
    layers: list[nn.Module] = []
    width = spec.n_features
    for hidden in spec.hidden:
        layers += [nn.Linear(width, hidden), nn.Tanh()]
        width = hidden
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)
