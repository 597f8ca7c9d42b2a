"""The two roles of a vertical run and who learns the intersection (plain names, no crypto)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Which party runs this side: A holds the labels, B features only."""

    LABEL_HOLDER = "label_holder"
    FEATURE_HOLDER = "feature_holder"


class Reveal(StrEnum):
    """Who learns the intersection: both parties, or the label holder only."""

    BOTH = "both"
    LABEL_HOLDER = "label_holder"
