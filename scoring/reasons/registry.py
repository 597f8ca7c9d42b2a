"""Name → attribution method registry (as `fedscore.core.models.registry` registers models).

An attribution method explains a model's logit for each customer against a baseline
vector in the encoded space: it returns one contribution per encoded column, and the
contributions of a row sum to logit(x) − logit(baseline) (exactly for a linear model,
up to the integration error for integrated gradients).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np

from fedscore.core.registry import Registry

if TYPE_CHECKING:
    from fedscore.core.artifact import ScoringModel


class Attribution(Protocol):
    """Per-column contributions to the logit, relative to the baseline."""

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """Contributions (rows × encoded columns) of the rows of `features`."""
        ...

    def per_feature(self, features: np.ndarray, grouping: np.ndarray) -> np.ndarray:
        """Contributions summed per raw feature: `self(features) @ grouping`.

        Args:
            features: encoded rows.
            grouping: the (encoded columns × raw features) 0/1 matrix.
        """
        ...


#: Builds a method for a model and a baseline (encoded vector); `steps` for path methods.
AttributionFactory = Callable[["ScoringModel", np.ndarray, int], Attribution]

#: The attribution methods by name; "auto" is resolved by `build_attribution`, never registered.
ATTRIBUTIONS: Registry[AttributionFactory] = Registry("reason-code method", reserved=["auto"])


def register_attribution(name: str) -> Callable[[AttributionFactory], AttributionFactory]:
    """Decorator registering an attribution factory under `name`.

    Args:
        name: the name scoring configs choose the method by, e.g. "exact_linear".

    Raises:
        ValueError: the name is malformed, "auto", or already registered.
    """
    return ATTRIBUTIONS.register(name)


def available_attributions() -> list[str]:
    """The registered attribution method names, sorted ("auto" excluded)."""
    return ATTRIBUTIONS.names()


def build_attribution(
    name: str, model: ScoringModel, baseline: np.ndarray, steps: int = 32
) -> Attribution:
    """The attribution `name` for `model` against `baseline`.

    Args:
        name: a registered method, or "auto": exact_linear for a model that is one
            linear layer, integrated_gradients otherwise.
        model: the model (one logit per row).
        baseline: the reference customer in the encoded space.
        steps: integration steps of path methods.

    Raises:
        ConfigError: no method has that name.
    """
    if name == "auto":
        name = "exact_linear" if model.linear is not None else "integrated_gradients"
    factory = ATTRIBUTIONS.get(name)
    return factory(model, np.asarray(baseline, dtype=np.float64), steps)
