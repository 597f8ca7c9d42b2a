"""Which rows a node may use: its one consent source, decided before any other step.

A node's consent comes from exactly one source: its consent table (per-customer records
with dates), the basis its node config declares (`[consent]`, for consent collected
outside any table), or the task's consent column. No source, or two, is a refusal that
names the table and the column, never a value.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from fedscore.core.errors import FedscoreError
from fedscore.core.schema import TaskSchema
from fedscore.privacy.consent import ConsentDecision, ConsentTable, from_basis, from_column
from fedscore.privacy.consent_basis import ConsentBasis


class DeidentificationRefused(FedscoreError):
    """The node will not train: undeclared PII found, or the rules cannot be met."""


def consent_table_key(schema: TaskSchema, source: str) -> str:
    """The column a consent table is matched on: the customer key.

    Args:
        schema: the task.
        source: the node's table, named in errors.

    Raises:
        DeidentificationRefused: the task has no customer key (`privacy_unit = "row"`).
    """
    if schema.deidentification.per_row:
        raise DeidentificationRefused(
            f"{source}: a consent table is matched on the customer key, and this task has "
            'none (privacy_unit = "row"): use a consent column or declare the basis in '
            "the node config ([consent] basis, legal_basis)"
        )
    return schema.customer_key.name


def consent_decision(
    frame: pd.DataFrame,
    schema: TaskSchema,
    as_of: date,
    consent_table: ConsentTable | None,
    source: str = "",
    basis: ConsentBasis | None = None,
) -> ConsentDecision:
    """Which rows of `frame` have valid consent for the task's purpose on `as_of`.

    One source decides: the node's consent table, the basis its config declares, or the
    task's consent column; a table holding a consent column while the node declares a
    basis has two, and is refused.

    Args:
        frame: the validated table.
        schema: the task (its purpose, consent column and privacy unit).
        as_of: the date consent is evaluated at.
        consent_table: the node's consent records (None: none given).
        source: the table's file, named in errors.
        basis: the basis the node config declares (`[consent]`; None: none declared).

    Raises:
        DeidentificationRefused: no consent source, two of them, or a consent table for
            a task without customer key.
    """
    column = schema.consent
    in_table = column is not None and column.name in frame
    if consent_table is not None:
        keys = frame[consent_table_key(schema, source)].to_numpy(dtype=object)
        return consent_table.decide(keys, schema.purpose, as_of)
    if basis is not None:
        if in_table:
            raise DeidentificationRefused(
                f"{source}: the node config declares a consent basis ([consent]) and the table "
                f"holds the consent column '{column.name if column else ''}': one consent "
                "source, not both (remove [consent], or the column from the table)"
            )
        return from_basis(len(frame), basis, as_of)
    if column is not None and in_table:
        return from_column(frame[column.name].to_numpy(dtype=bool))
    if column is not None:
        raise DeidentificationRefused(
            f"{source}: the consent column '{column.name}' (required = false) is not in the "
            "table, and the node has no other consent source: give it a consent table "
            "(node config [deidentification] consent_table) or declare the basis "
            "([consent] basis, legal_basis)"
        )
    raise DeidentificationRefused(
        f"{source}: no consent source: give the node a consent table (node config "
        "[deidentification] consent_table), declare a consent column in the task schema, or "
        "declare the basis of processing in the node config ([consent] basis, legal_basis); "
        "see docs/task-schema.md#consent"
    )
