"""A decision strategy's columns in a scored book (`fedscore score --strategy`).

`decision_columns` turns a `fedscore.decisions.Decider` into the batch engine's
`ChunkColumns`: per chunk, `Decider.decide_frame` over the chunk's Arrow columns and
its scores (arrays in, arrays out), written as Arrow columns with the text ones
dictionary-encoded. Every row is decided by the champion strategy (a book carries no
application ids to split on). The decisions package is imported when a strategy is
used, not with the batch engine.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from fedscore.scoring.batch.engine import ChunkColumns
from fedscore.scoring.scorer import ScoredBatch

if TYPE_CHECKING:
    from fedscore.decisions import Decider, DecisionArrays


def _dictionary(codes: np.ndarray, names: list[str] | tuple[str, ...]) -> pa.DictionaryArray:
    """Codes into `names` as a dictionary array (a negative code is null)."""
    missing = codes < 0
    indices = pa.array(np.maximum(codes, 0).astype(np.int32), mask=missing)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(names), pa.string()))


def fired_rules(fired: np.ndarray, names: tuple[str, ...]) -> pa.DictionaryArray:
    """Each row's fired rules joined by ", ", one dictionary entry per distinct combination.

    Args:
        fired: (rows × rules) whether each rule fired.
        names: the rules' names, in the columns' order.
    """
    rules = fired.shape[1]
    if rules == 0:
        return _dictionary(np.zeros(len(fired), dtype=np.int16), [""])
    if rules < 64:  # each row's combination as one integer: a 1-D unique, no row sort
        packed = np.zeros((len(fired), 8), dtype=np.uint8)
        bits = np.packbits(fired, axis=1, bitorder="little")
        packed[:, : bits.shape[1]] = bits
        keys = packed.view("<u8").reshape(-1)
        if rules <= 20:  # a table over every combination: no sort
            seen = np.zeros(1 << rules, dtype=bool)
            seen[keys] = True
            distinct = np.flatnonzero(seen).astype(np.uint64)
            codes = (np.cumsum(seen) - 1)[keys]
        else:
            distinct, codes = np.unique(keys, return_inverse=True)
        patterns = (distinct[:, None] >> np.arange(rules, dtype=np.uint64)) & np.uint64(1) == 1
    else:
        packed, codes = np.unique(np.packbits(fired, axis=1), axis=0, return_inverse=True)
        patterns = np.unpackbits(packed, axis=1, count=rules).astype(bool)
    texts = [", ".join(n for n, hit in zip(names, row, strict=True) if hit) for row in patterns]
    return _dictionary(codes.reshape(-1), texts)


def arrays_to_columns(arrays: DecisionArrays, grades: list[str]) -> dict[str, pa.Array]:
    """The output columns of many decisions.

    decision (approve/refer/decline), final_grade (after the rules), limit_min,
    limit_max, pricing_tier and annual_rate (null where declined), fired_rules, strategy
    ("name@version").

    Args:
        arrays: the decisions.
        grades: the scoring configuration's grade names (final grades index them).
    """
    from fedscore.decisions.rules import OUTCOMES

    declined = arrays.tier < 0
    return {
        "decision": _dictionary(arrays.outcome.astype(np.int16), OUTCOMES),
        "final_grade": _dictionary(arrays.grade.astype(np.int16), grades),
        "limit_min": pa.array(arrays.limit_min.astype(np.float64)),
        "limit_max": pa.array(arrays.limit_max.astype(np.float64)),
        "pricing_tier": _dictionary(arrays.tier.astype(np.int16), arrays.tier_names),
        "annual_rate": pa.array(arrays.annual_rate.astype(np.float64), mask=declined),
        "fired_rules": fired_rules(arrays.fired, arrays.rule_names),
        "strategy": _dictionary(arrays.arm.astype(np.int16), arrays.strategy_versions),
    }


def decision_columns(decider: Decider) -> ChunkColumns:
    """The engine's extra columns deciding every scored row with `decider`'s strategy.

    Args:
        decider: the strategy (champion) and the scorer whose grades it names.
    """
    grades = decider.scorer.grades.names
    # The champion alone: no row has an application id to split on, so neither the
    # split's hash nor the challenger's rules need to run.
    champion = type(decider)(
        decider.scorer, dataclasses.replace(decider.strategy, challenger=None, split=None)
    )

    def columns(batch: pa.RecordBatch, scored: ScoredBatch) -> dict[str, pa.Array]:
        table = pa.Table.from_batches([batch])
        return arrays_to_columns(champion.decide_frame(table, scored), grades)

    return columns
