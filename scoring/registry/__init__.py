"""The model registry: versioned, signed model bundles with their model cards."""

from fedscore.scoring.registry.card import ModelCard, PartyCard
from fedscore.scoring.registry.errors import RegistryError
from fedscore.scoring.registry.production import PRODUCTION
from fedscore.scoring.registry.registered import CheckedCard, RegisteredModel
from fedscore.scoring.registry.registry import ModelRegistry

__all__ = [
    "PRODUCTION",
    "CheckedCard",
    "ModelCard",
    "ModelRegistry",
    "PartyCard",
    "RegisteredModel",
    "RegistryError",
]
