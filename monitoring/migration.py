"""The two books joined by customer key: grade migration matrix, movers, per-customer table.

A customer is in both books, only in the first (closed: left the book) or only in the
second (new). The migration matrix counts the customers in both books by their
monitoring grade at T1 (rows) and T2 (columns); a mover fell `mover_steps` grades or
more (A→C with the default 2). The per-customer table carries the bank's own customer
key (its output only; identifier columns are refused when the books are read).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fedscore.core.errors import TableReadError
from fedscore.monitoring.grading import GradedBook
from fedscore.scoring.batch.decided import fired_rules

STATUSES = ("both", "closed", "new")


@dataclass(frozen=True)
class Migration:
    """How customers moved between the books' grades.

    Attributes:
        grades: the grade names, best first.
        matrix: (grades × grades) customers in both books by T1 grade (row), T2 grade (column).
        closed: customers only in the first book, per T1 grade.
        new: customers only in the second book, per T2 grade.
        customers: one row per customer (see `customer_table`).
        movers: the customers who fell `mover_steps` grades or more, worst falls first.
    """

    grades: tuple[str, ...]
    matrix: np.ndarray
    closed: np.ndarray
    new: np.ndarray
    customers: pa.Table
    movers: pa.Table


def _joined(first: GradedBook, second: GradedBook) -> tuple[np.ndarray, np.ndarray]:
    """Row indices into each book per customer (-1 where absent), T1's order, then new ones.

    Raises:
        TableReadError: the key columns differ in name or type, or share no customer.
    """
    if first.key != second.key or first.keys.type != second.keys.type:
        raise TableReadError(
            f"{second.source}: customer key column '{second.key}' ({second.keys.type}) does not "
            f"match '{first.key}' ({first.keys.type}) of {first.source}; both books must "
            "carry the same customer key"
        )
    left = pa.table({"key": first.keys, "i1": pa.array(np.arange(len(first)))})
    right = pa.table({"key": second.keys, "i2": pa.array(np.arange(len(second)))})
    joined = left.join(right, "key", join_type="full outer").sort_by(
        [("i1", "ascending"), ("i2", "ascending")]
    )
    i1 = joined.column("i1").fill_null(-1).to_numpy()
    i2 = joined.column("i2").fill_null(-1).to_numpy()
    if not ((i1 >= 0) & (i2 >= 0)).any():
        raise TableReadError(
            f"{second.source}: no customer key of column '{second.key}' is in {first.source}: "
            "the books must be the same book at two dates"
        )
    return i1, i2


def _take(values: np.ndarray, index: np.ndarray) -> pa.Array:
    """values[index] with nulls where index is -1."""
    return pa.array(values[np.maximum(index, 0)], mask=index < 0)


def _codes(values: np.ndarray, index: np.ndarray, names: tuple[str, ...]) -> pa.Array:
    codes = pa.array(values[np.maximum(index, 0)].astype(np.int8), mask=index < 0)
    return pa.DictionaryArray.from_arrays(codes, pa.array(list(names), pa.string()))


def migrate(
    first: GradedBook,
    second: GradedBook,
    grades: tuple[str, ...],
    actions: tuple[str, ...],
    rule_names: tuple[str, ...],
    mover_steps: int,
) -> Migration:
    """Join the books and count the moves.

    Args:
        first: the book graded at T1.
        second: the book graded at T2.
        grades: the grade names, best first.
        actions: each grade's monitoring action.
        rule_names: the monitoring rules' names (the columns of `fired`).
        mover_steps: grades fallen from which a customer is a mover.
    """
    i1, i2 = _joined(first, second)
    both = (i1 >= 0) & (i2 >= 0)
    g1 = np.where(i1 >= 0, first.grade[np.maximum(i1, 0)], -1)
    g2 = np.where(i2 >= 0, second.grade[np.maximum(i2, 0)], -1)
    size = len(grades)
    matrix = np.bincount(g1[both] * size + g2[both], minlength=size * size).reshape(size, size)
    closed = np.bincount(g1[i2 < 0], minlength=size)
    new = np.bincount(g2[i1 < 0], minlength=size)
    status = np.where(both, 0, np.where(i2 < 0, 1, 2)).astype(np.int8)
    keys = pc.take(first.keys, pa.array(np.maximum(i1, 0)))
    keys = pc.if_else(pa.array(i1 >= 0), keys, pc.take(second.keys, pa.array(np.maximum(i2, 0))))
    fired = second.fired[np.maximum(i2, 0)] & (i2 >= 0)[:, None]
    moved = np.where(both, g2 - g1, 0).astype(np.int8)
    customers = pa.table(
        {
            first.key: keys,
            "status": pa.DictionaryArray.from_arrays(pa.array(status), pa.array(list(STATUSES))),
            "grade_t1": _codes(first.grade, i1, grades),
            "grade_t2": _codes(second.grade, i2, grades),
            "grades_moved": pa.array(moved, mask=~both),
            "score_grade_t1": _codes(first.score_grade, i1, grades),
            "score_grade_t2": _codes(second.score_grade, i2, grades),
            "score_t1": _take(first.score, i1),
            "score_t2": _take(second.score, i2),
            "probability_of_default_t1": _take(first.probability, i1),
            "probability_of_default_t2": _take(second.probability, i2),
            "action_t2": _codes(second.grade, i2, actions),
            "fired_rules_t2": fired_rules(fired, rule_names),
        }
    )
    movers = customers.filter(pa.array(both & (moved >= mover_steps)))
    movers = movers.sort_by([("grades_moved", "descending"), ("score_t2", "ascending")])
    return Migration(grades, matrix, closed, new, customers, movers)
