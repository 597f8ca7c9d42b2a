"""The model registry: versioned, signed model bundles with their model cards."""

from fedscore.scoring.registry.card import ModelCard, PartyCard
from fedscore.scoring.registry.registry import (
    PRODUCTION,
    ModelRegistry,
    RegisteredModel,
    RegistryError,
)

__all__ = [
    "PRODUCTION",
    "ModelCard",
    "ModelRegistry",
    "PartyCard",
    "RegisteredModel",
    "RegistryError",
]
