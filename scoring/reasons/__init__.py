"""Reason codes: attribution methods registered by name, and the top reasons per customer.

Importing this package registers the built-in methods: "exact_linear" (LR) and
"integrated_gradients" (any differentiable model, the MLP).
"""

from fedscore.scoring.reasons import integrated_gradients, linear  # noqa: F401
from fedscore.scoring.reasons.registry import (
    Attribution,
    available_attributions,
    build_attribution,
    register_attribution,
)
from fedscore.scoring.reasons.top import Reason, top_reasons

__all__ = [
    "Attribution",
    "Reason",
    "available_attributions",
    "build_attribution",
    "register_attribution",
    "top_reasons",
]
