"""Name → model factory registry (the way Opacus registers its accountants)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from fedscore.core.errors import ConfigError


@dataclass(frozen=True)
class ModelSpec:
    """What a model factory needs.

    Attributes:
        name: the registered model name.
        n_features: width of the encoded feature vector.
        hidden: hidden layer widths (ignored by models without hidden layers).
        seed: seed of the initial weights, so every run starts from the same model.
    """

    name: str
    n_features: int
    hidden: tuple[int, ...] = (64, 32)
    seed: int = 0


ModelFactory = Callable[[ModelSpec], nn.Module]
_FACTORIES: dict[str, ModelFactory] = {}


def register_model(name: str) -> Callable[[ModelFactory], ModelFactory]:
    """Decorator registering a factory that builds a model emitting one logit per row."""

    def decorate(factory: ModelFactory) -> ModelFactory:
        _FACTORIES[name] = factory
        return factory

    return decorate


def available_models() -> list[str]:
    return sorted(_FACTORIES)


def build_model(spec: ModelSpec) -> nn.Module:
    """A freshly initialised model (deterministic in `spec.seed`)."""
    factory = _FACTORIES.get(spec.name)
    if factory is None:
        raise ConfigError(f"unknown model '{spec.name}'; choose one of {available_models()}")
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(spec.seed)
    try:
        return factory(spec)
    finally:
        torch.random.set_rng_state(generator_state)
