"""Checks of a party's model update against the global model it started from.

The server screens every update before aggregation (`server/update_screening.py`); with
secure aggregation the server never sees an update, so each node runs the same checks
on its own update before masking it (`clients/secure_aggregation.py`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from flwr.app import RecordDict

from fedscore.core.protocol import ARRAYS, NUM_EXAMPLES, ProtocolError, TrainReply

REJECTED_PREFIX = "update rejected: "


@dataclasses.dataclass(frozen=True)
class Screening:
    """The verdict on one update.

    Attributes:
        problem: why the update is rejected ("" when it is kept).
        norm: L2 norm of (update − global model) over all arrays; NaN where it could
            not be computed (unreadable arrays, NaN/Inf, other names or shapes).
    """

    problem: str = ""
    norm: float = math.nan

    @property
    def kept(self) -> bool:
        """Whether the update goes on to aggregation."""
        return not self.problem


def check_update(
    content: RecordDict, reference: dict[str, np.ndarray], max_norm: float | None
) -> Screening:
    """Check one training reply's update against the global model.

    Args:
        content: the content of a party's training reply.
        reference: the global model's arrays by name.
        max_norm: the bound on the L2 norm of (update − global model); None: no bound.

    Returns:
        The verdict, with the norm wherever it could be computed.
    """
    array_records = list(content.array_records.keys())
    if array_records != [ARRAYS]:
        return Screening(
            f"{REJECTED_PREFIX}expected one ArrayRecord '{ARRAYS}', got {array_records}"
        )
    try:
        reply = TrainReply.from_record(content)
    except ProtocolError as problem:
        return Screening(f"{REJECTED_PREFIX}{problem}")
    weight = reply.metrics.num_examples
    if not (math.isfinite(weight) and weight > 0):
        return Screening(f"{REJECTED_PREFIX}'{NUM_EXAMPLES}' is {weight}, not a positive number")
    update = content.array_records[ARRAYS]
    missing = sorted(set(reference) - set(update.keys()))
    unexpected = sorted(set(update.keys()) - set(reference))
    if missing or unexpected:
        return Screening(
            f"{REJECTED_PREFIX}arrays differ from the global model's "
            f"(missing {missing}, unexpected {unexpected})"
        )
    squares = 0.0
    for name, expected in reference.items():
        try:
            values = update[name].numpy()
        except Exception as exc:  # a malformed Array: anything its decoding raises
            return Screening(
                f"{REJECTED_PREFIX}array '{name}' cannot be read ({type(exc).__name__})"
            )
        if values.shape != expected.shape:
            return Screening(
                f"{REJECTED_PREFIX}'{name}' has shape {values.shape}, "
                f"the global model's is {expected.shape}"
            )
        if not (np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_):
            return Screening(f"{REJECTED_PREFIX}'{name}' is not numeric (dtype {values.dtype})")
        if not np.isfinite(values).all():
            return Screening(f"{REJECTED_PREFIX}NaN/Inf in '{name}'")
        with np.errstate(over="ignore", invalid="ignore"):
            difference = values.astype(np.float64) - expected.astype(np.float64)
            squares += float(np.sum(np.square(difference)))
    norm = math.sqrt(squares)
    if max_norm is not None and not norm <= max_norm:
        return Screening(
            f"{REJECTED_PREFIX}norm {norm:.4g} exceeds max_update_norm {max_norm}", norm=norm
        )
    return Screening(norm=norm)
