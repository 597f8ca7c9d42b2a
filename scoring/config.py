"""The scoring configuration: scorecard scaling, grades and actions, reason codes, PSI.

One TOML file (`configs/default.toml` is the bundled default) read into strict, frozen
pydantic models with `fedscore.core.typed_config.parse_section`: a misspelt key, a wrong
type (a string is never a number), a non-finite number or a broken rule is refused
with one `ConfigError` naming the file, the key path and the rule.
"""

from __future__ import annotations

import itertools
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from fedscore.core.documents import read_toml
from fedscore.core.typed_config import StrictSection, parse_section

#: Where errors about the bundled default configuration point.
BUNDLED_SOURCE = "fedscore.scoring.configs/default.toml"


class ScorecardConfig(StrictSection):
    """How a probability of default becomes score points.

    Attributes:
        base_score: the points of a customer whose good:bad odds are `base_odds`:1.
        base_odds: good:bad odds at `base_score` (50 means 50:1, PD = 1/51).
        pdo: points to double the odds: `pdo` more points, twice the good:bad odds.
    """

    base_score: float = 600.0
    base_odds: float = Field(default=50.0, gt=0)
    pdo: float = Field(default=20.0, gt=0)


class GradeBand(StrictSection):
    """One risk grade.

    Attributes:
        name: the grade ("A").
        action: what risk operations do with its customers.
        min_score: the fewest points of this grade; None for the last (worst) grade.
    """

    name: str = Field(min_length=1)
    action: str
    min_score: float | None = None


class ReasonConfig(StrictSection):
    """Reason codes.

    Attributes:
        top: how many reason codes each customer gets.
        method: a registered attribution method ("exact_linear", "integrated_gradients")
            or "auto" (exact_linear for a linear model, integrated_gradients otherwise).
        integrated_gradient_steps: Riemann steps of integrated gradients.
    """

    top: int = Field(default=3, ge=0)
    method: str = "auto"
    integrated_gradient_steps: int = Field(default=32, ge=1)

    @field_validator("method")
    @classmethod
    def _registered(cls, method: str) -> str:
        from fedscore.scoring.reasons import available_attributions

        known = ["auto", *available_attributions()]
        if method not in known:
            raise PydanticCustomError(
                "unknown_method", "must be one of: {known}", {"known": ", ".join(known)}
            )
        return method


class PsiConfig(StrictSection):
    """Population stability.

    Attributes:
        bins: score bins of the development distribution (equal-frequency).
        warn_above: a PSI above this is reported as a population shift.
    """

    bins: int = Field(default=10, ge=2)
    warn_above: float = Field(default=0.25, gt=0)


def _bundled_document() -> dict[str, Any]:
    """The bundled default configuration file, parsed."""
    bundled = resources.files("fedscore.scoring.configs").joinpath("default.toml")
    with resources.as_file(bundled) as path:
        return read_toml(path, "the bundled scoring configuration")


def _default_grades() -> tuple[GradeBand, ...]:
    """The grades of the bundled default configuration (A–D with their actions)."""
    return parse_section(ScoringConfig, _bundled_document(), BUNDLED_SOURCE).grades


class ScoringConfig(StrictSection):
    """Everything that turns a model's output into a decision-ready score.

    Attributes:
        scorecard: points scaling (`[scorecard]`).
        grades: the risk grades, best first (`[[grades]]`); the last one takes every
            score below the others' cut-offs. Default: the bundled A–D grades.
        reasons: reason codes (`[reasons]`).
        psi: population stability (`[psi]`).
    """

    scorecard: ScorecardConfig = ScorecardConfig()
    grades: tuple[GradeBand, ...] = Field(default_factory=_default_grades)
    reasons: ReasonConfig = ReasonConfig()
    psi: PsiConfig = PsiConfig()

    @field_validator("grades", mode="before")
    @classmethod
    def _array_of_tables(cls, grades: object) -> object:
        # TOML arrays arrive as lists; strict mode takes only tuples for a tuple field.
        return tuple(grades) if isinstance(grades, list) else grades

    @field_validator("grades")
    @classmethod
    def _ordered_cut_offs(cls, grades: tuple[GradeBand, ...]) -> tuple[GradeBand, ...]:
        rule = _grade_rule_broken(grades)
        if rule is not None:
            raise PydanticCustomError("grade_rule", rule)
        return grades

    @classmethod
    def from_toml(cls, path: str | Path) -> ScoringConfig:
        """Read a scoring configuration file.

        Args:
            path: the TOML file; sections it leaves out take their defaults.

        Raises:
            ConfigError: the file cannot be read, is not TOML, or breaks a rule (naming
                the file, the key path and the rule).
        """
        path = Path(path)
        return cls.from_mapping(read_toml(path, "scoring configuration"), source=str(path))

    @classmethod
    def from_mapping(cls, doc: Any, source: str = "<scoring config>") -> ScoringConfig:
        """Validate a parsed TOML document; missing sections take their defaults.

        Args:
            doc: the document as TOML read it.
            source: where it came from (named in errors).

        Raises:
            ConfigError: naming `source`, the key path and the rule of every problem.
        """
        return parse_section(cls, doc, source)


def _grade_rule_broken(grades: tuple[GradeBand, ...]) -> str | None:
    """The first rule the grades break, in words; None when they keep every rule."""
    if len(grades) < 2:
        return "at least two grades are needed"
    names = [grade.name for grade in grades]
    if len(set(names)) != len(names):
        return "grade names must be distinct"
    if grades[-1].min_score is not None:
        return f"the last grade '{grades[-1].name}' takes no min_score"
    cuts = [grade.min_score for grade in grades[:-1] if grade.min_score is not None]
    if len(cuts) < len(grades) - 1:
        missing = [grade.name for grade in grades[:-1] if grade.min_score is None]
        return f"every grade but the last needs a min_score (missing: {', '.join(missing)})"
    if any(lower >= higher for higher, lower in itertools.pairwise(cuts)):
        return "min_score must fall strictly from the first grade down"
    return None


def load_scoring_config(path: str | Path | None = None) -> ScoringConfig:
    """The configuration at `path`, or the bundled default (`configs/default.toml`).

    Args:
        path: a scoring configuration TOML file; None for the bundled default.

    Raises:
        ConfigError: the file is unreadable or invalid (file, key path and rule).
    """
    if path is not None:
        return ScoringConfig.from_toml(path)
    return ScoringConfig.from_mapping(_bundled_document(), source=BUNDLED_SOURCE)
