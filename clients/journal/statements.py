"""SQL text that names its columns, bound to named parameters of the same names.

A value reaches the column of its name whatever the order of a record's fields, and a
record field without a column of its name fails loudly (SQLite: no such column).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

from fedscore.clients.journal.records import AccountantKey

KEY_COLUMNS: tuple[str, ...] = tuple(field.name for field in fields(AccountantKey))
"""The columns every table of the journal identifies a party's budget by."""
ROUND_COLUMNS: tuple[str, ...] = (*KEY_COLUMNS, "run_id", "server_round")
"""The columns that identify one round of one run (of a budget)."""


def insert(table: str, columns: Sequence[str], verb: str = "INSERT", tail: str = "") -> str:
    """`INSERT INTO table (a, b) VALUES (:a, :b)`.

    Args:
        table: the table written.
        columns: the columns given values, each from the parameter of its name.
        verb: the statement's verb ("INSERT", "INSERT OR IGNORE", "INSERT OR REPLACE").
        tail: what follows the values (an `ON CONFLICT` clause).

    Returns:
        The statement's text.
    """
    values = ", ".join(f":{column}" for column in columns)
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({values}) {tail}".rstrip()


def matching(columns: Sequence[str], prefix: str = "") -> str:
    """A condition: every column equals the parameter of its name (`a=:a AND b=:b`).

    Args:
        columns: the columns compared.
        prefix: a table alias with its dot (`"a."`), where a join needs one.

    Returns:
        The condition's text.
    """
    return " AND ".join(f"{prefix}{column}=:{column}" for column in columns)


def select(table: str, columns: Sequence[str], where: Sequence[str], tail: str = "") -> str:
    """`SELECT a, b FROM table WHERE c=:c AND d=:d`.

    Args:
        table: the table read.
        columns: the columns read (rows are read by these names).
        where: the columns that must equal the parameters of their names.
        tail: what follows the condition (`ORDER BY ...`).

    Returns:
        The statement's text.
    """
    return f"SELECT {', '.join(columns)} FROM {table} WHERE {matching(where)} {tail}".rstrip()
