"""The scoring configuration: scorecard scaling, grades and actions, reason codes, PSI.

One TOML file (`configs/default.toml` is the bundled default) read into frozen
dataclasses; every value is checked when the file is read, and errors name the entry.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fedscore.core.errors import ConfigError


@dataclass(frozen=True)
class ScorecardConfig:
    """How a probability of default becomes score points.

    Attributes:
        base_score: the points of a customer whose good:bad odds are `base_odds`:1.
        base_odds: good:bad odds at `base_score` (50 means 50:1, PD = 1/51).
        pdo: points to double the odds: `pdo` more points, twice the good:bad odds.
    """

    base_score: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0


@dataclass(frozen=True)
class GradeBand:
    """One risk grade.

    Attributes:
        name: the grade ("A").
        min_score: the fewest points of this grade; None for the last (worst) grade.
        action: what risk operations do with its customers.
    """

    name: str
    action: str
    min_score: float | None = None


def _bundled_document() -> dict[str, Any]:
    """The bundled default configuration file, parsed."""
    bundled = resources.files("fedscore.scoring.configs").joinpath("default.toml")
    return tomllib.loads(bundled.read_text(encoding="utf-8"))


def _default_grades() -> tuple[GradeBand, ...]:
    """The grades of the bundled default configuration (A–D with their actions)."""
    return tuple(GradeBand(**entry) for entry in _bundled_document()["grades"])


@dataclass(frozen=True)
class ReasonConfig:
    """Reason codes.

    Attributes:
        top: how many reason codes each customer gets.
        method: a registered attribution method ("exact_linear", "integrated_gradients")
            or "auto" (exact_linear for a linear model, integrated_gradients otherwise).
        integrated_gradient_steps: Riemann steps of integrated gradients.
    """

    top: int = 3
    method: str = "auto"
    integrated_gradient_steps: int = 32


@dataclass(frozen=True)
class PsiConfig:
    """Population stability.

    Attributes:
        bins: score bins of the development distribution (equal-frequency).
        warn_above: a PSI above this is reported as a population shift.
    """

    bins: int = 10
    warn_above: float = 0.25


@dataclass(frozen=True)
class ScoringConfig:
    """Everything that turns a model's output into a decision-ready score."""

    scorecard: ScorecardConfig = field(default_factory=ScorecardConfig)
    grades: tuple[GradeBand, ...] = field(default_factory=_default_grades)
    reasons: ReasonConfig = field(default_factory=ReasonConfig)
    psi: PsiConfig = field(default_factory=PsiConfig)

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def from_toml(cls, path: str | Path) -> ScoringConfig:
        """Read a scoring configuration file; raises `ConfigError` naming the bad entry."""
        path = Path(path)
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the scoring configuration: {exc}") from exc
        return cls.from_mapping(doc, source=str(path))

    @classmethod
    def from_mapping(cls, doc: dict[str, Any], source: str = "<scoring config>") -> ScoringConfig:
        """Build from a parsed TOML document; missing sections take their defaults."""
        try:
            grades = doc.get("grades")
            return cls(
                scorecard=ScorecardConfig(**doc.get("scorecard", {})),
                grades=(
                    tuple(GradeBand(**entry) for entry in grades)
                    if grades is not None
                    else _default_grades()
                ),
                reasons=ReasonConfig(**doc.get("reasons", {})),
                psi=PsiConfig(**doc.get("psi", {})),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: {exc}") from exc


def load_scoring_config(path: str | Path | None = None) -> ScoringConfig:
    """The configuration at `path`, or the bundled default (`configs/default.toml`)."""
    if path is not None:
        return ScoringConfig.from_toml(path)
    return ScoringConfig.from_mapping(
        _bundled_document(), source="fedscore.scoring.configs/default.toml"
    )


def _check(config: ScoringConfig) -> None:
    card = config.scorecard
    for name in ("base_score", "base_odds", "pdo"):
        if not math.isfinite(float(getattr(card, name))):
            raise ValueError(f"[scorecard] '{name}' must be a finite number")
    if card.base_odds <= 0 or card.pdo <= 0:
        raise ValueError("[scorecard] 'base_odds' and 'pdo' must be > 0")
    grades = config.grades
    if len(grades) < 2:
        raise ValueError("[[grades]] at least two grades are needed")
    names = [g.name for g in grades]
    if len(set(names)) != len(names) or not all(names):
        raise ValueError("[[grades]] grade names must be distinct and non-empty")
    if grades[-1].min_score is not None:
        raise ValueError(f"[[grades]] the last grade '{grades[-1].name}' takes no min_score")
    cuts = [g.min_score for g in grades[:-1]]
    if any(c is None for c in cuts):
        raise ValueError("[[grades]] every grade but the last needs a min_score")
    if any(b >= a for a, b in itertools.pairwise(cuts)):  # type: ignore[operator]
        raise ValueError("[[grades]] min_score must fall strictly from the first grade down")
    if config.reasons.top < 0 or config.reasons.integrated_gradient_steps < 1:
        raise ValueError("[reasons] 'top' must be >= 0 and 'integrated_gradient_steps' >= 1")
    if config.psi.bins < 2 or config.psi.warn_above <= 0:
        raise ValueError("[psi] 'bins' must be >= 2 and 'warn_above' > 0")
