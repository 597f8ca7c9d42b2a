"""What the registry hands out: a verified model, and a version as a listing shows it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fedscore.core.artifact import ScoringModel
from fedscore.scoring.config import ScoringConfig, load_scoring_config
from fedscore.scoring.development import DevelopmentProfile
from fedscore.scoring.registry.card import ModelCard
from fedscore.scoring.scorer import Scorer


@dataclass(frozen=True)
class RegisteredModel:
    """A verified registered model.

    Attributes:
        card: its model card.
        model: the trained model (from the registry's copy).
        development: its development profile.
        folder: its folder in the registry.
    """

    card: ModelCard
    model: ScoringModel
    development: DevelopmentProfile
    folder: Path

    @property
    def version(self) -> str:
        """Its version name, "<task>-v<number>"."""
        return self.card.version

    def scorer(self, config: ScoringConfig | None = None) -> Scorer:
        """A scorer of this model.

        Args:
            config: the scoring configuration; None for the bundled default.
        """
        return Scorer(self.model, self.version, self.development, config or load_scoring_config())


@dataclass(frozen=True)
class CheckedCard:
    """One registered version as a listing shows it.

    Attributes:
        version: the version the index names.
        card: its signed model card; None when the bundle does not verify.
        problem: why it does not verify ("" when it does).
    """

    version: str
    card: ModelCard | None
    problem: str = ""
