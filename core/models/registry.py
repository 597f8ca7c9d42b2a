"""Name → model factory registry (the way Opacus registers its accountants)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from fedscore.core.registry import Registry


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

#: The model factories by name; the built-in ones register when `fedscore.core.models` is imported.
MODELS: Registry[ModelFactory] = Registry("model")


def register_model(name: str) -> Callable[[ModelFactory], ModelFactory]:
    """Decorator registering a factory that builds a model emitting one logit per row.

    Args:
        name: the name runs choose the model by (`RunConfig.model`), e.g. "lr".

    Raises:
        ValueError: the name is malformed or already registered.
    """
    return MODELS.register(name)


def available_models() -> list[str]:
    """The registered model names, sorted."""
    return MODELS.names()


def build_model(spec: ModelSpec) -> nn.Module:
    """A freshly initialised model (deterministic in `spec.seed`).

    Args:
        spec: the registered model's name and what its factory needs.

    Raises:
        ConfigError: no model is registered under `spec.name`.
    """
    return seeded(lambda: MODELS.get(spec.name)(spec), spec.seed)


def seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """`build()` with torch's generator seeded by `seed`, then restored as it was.

    Args:
        build: makes the model (its initial weights drawn from torch's generator).
        seed: the seed of those draws.
    """
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return build()
    finally:
        torch.random.set_rng_state(generator_state)
