"""The model registry: versioned, signed model bundles with their model cards."""

from fedscore.scoring.registry.card import ModelCard, PartyCard
from fedscore.scoring.registry.registry import (
    PRODUCTION,
    CheckedCard,
    ModelRegistry,
    RegisteredModel,
    RegistryError,
)

__all__ = [
    "PRODUCTION",
    "CheckedCard",
    "ModelCard",
    "ModelRegistry",
    "PartyCard",
    "RegisteredModel",
    "RegistryError",
]
