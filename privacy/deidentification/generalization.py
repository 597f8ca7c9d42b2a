"""Coarsening quasi-identifiers by the task's configured rules and hierarchies."""

from __future__ import annotations

import pandas as pd

from fedscore.core.generalization import describe, generalize_column
from fedscore.core.schema import TaskSchema


def generalize(frame: pd.DataFrame, schema: TaskSchema) -> tuple[pd.DataFrame, dict[str, str]]:
    """Apply every column rule and hierarchy; returns the frame and what was done per column."""
    frame = frame.copy()
    actions: dict[str, str] = {}
    for spec in schema.quasi_identifiers:
        if spec.generalize is not None and spec.name in frame:
            frame[spec.name] = generalize_column(frame[spec.name], spec.generalize)
            actions[spec.name] = describe(spec.generalize)
    for hierarchy in schema.deidentification.hierarchies:
        for level in hierarchy.generalized:
            if level in frame and hierarchy.release in frame:
                frame[level] = frame[hierarchy.release]
                path = " → ".join(hierarchy.levels)
                actions[level] = f"generalized to {hierarchy.release} ({path})"
    return frame, actions
