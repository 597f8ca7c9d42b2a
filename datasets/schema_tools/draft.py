"""Drafting a task schema from a party's table (`fedscore schema draft DATA.csv`).

The draft declares every column of the table with the role `column_guess` guesses, and
writes the mark "TO AGREE" (`marks`) on every value the consortium must decide: the task's
purpose, each numeric column's bounds (a placeholder, or a DP estimate with
`dp_epsilon`), each vocabulary, consent values and label taken from the data. A draft is
refused by `fedscore schema check` until every mark is resolved.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fedscore.core.schema import ColumnSpec, DeidentificationRules, Role
from fedscore.core.schema.fields import number_text
from fedscore.core.tabular import read_table
from fedscore.datasets.schema_tools.column_guess import ColumnGuess, guess_columns
from fedscore.datasets.schema_tools.dp_bounds import (
    HIGH_QUANTILE,
    LOW_QUANTILE,
    dp_bounds,
    epsilon_per_bound,
)
from fedscore.datasets.schema_tools.marks import TO_AGREE, mark_comment
from fedscore.datasets.schema_tools.table_check import SAMPLE_ROWS

#: Why bounds and vocabularies must not be copied from one party's data.
DISCLOSURE_WARNING = (
    "Bounds and vocabularies taken from one institution's data disclose that data to every "
    "other party of the consortium (the largest credit limit is one customer's limit, a rare "
    "category says someone holds it). Agree them from domain knowledge, not from this file."
)

_PLACEHOLDER = json.dumps(TO_AGREE)


@dataclass(frozen=True)
class Draft:
    """A drafted task schema.

    Attributes:
        text: the schema (TOML), with its "TO AGREE" marks.
        rows_read: the rows of the table the guesses come from (from its start).
        guesses: each column's guessed role, in the table's order.
        dp_epsilon: the ε of the bounds (None: bounds are left as placeholders).
        bounded_columns: the numeric columns whose bounds are ε-DP estimates (none
            without `dp_epsilon`).
    """

    text: str
    rows_read: int
    guesses: tuple[ColumnGuess, ...]
    dp_epsilon: float | None = None
    bounded_columns: tuple[str, ...] = ()


def draft_schema(path: Path, max_rows: int = SAMPLE_ROWS, dp_epsilon: float | None = None) -> Draft:
    """A first task schema for a party's table.

    Args:
        path: the table (CSV or Parquet).
        max_rows: how many rows from the start of the file the guesses look at.
        dp_epsilon: estimate each numeric column's bounds with this total ε (`dp_bounds`);
            None leaves them "TO AGREE".

    Raises:
        TableReadError: the file cannot be read.
        ValueError: dp_epsilon is not a positive finite number.
    """
    frame = read_table(path, max_rows=max_rows)
    guesses = guess_columns(frame)
    bounds: dict[str, tuple[float, float]] = {}
    if dp_epsilon is not None:
        numeric = [g.spec.name for g in guesses if g.spec.role == Role.NUMERIC]
        bounds = dp_bounds(frame, numeric, dp_epsilon, _privacy_unit(guesses))
    lines = _header(path, len(frame), dp_epsilon) + _task(path) + _deidentification(guesses)
    for guess in guesses:
        lines += ["", "[[columns]]", *_column(guess, bounds, dp_epsilon)]
    lines += _missing_roles(guesses)
    text = "\n".join(lines) + "\n"
    return Draft(text, len(frame), tuple(guesses), dp_epsilon, tuple(bounds))


def _header(path: Path, rows: int, dp_epsilon: float | None) -> list[str]:
    bounds = (
        f"DP estimates (ε = {dp_epsilon:g} in all: see dp_bounds)"
        if dp_epsilon is not None
        else "left as placeholders"
    )
    return [
        f"# Task schema drafted by 'fedscore schema draft' from {path.name} ({rows} rows read).",
        "#",
        f"# Every line marked {TO_AGREE} is for the consortium to decide, then rewrite without",
        "# the mark; 'fedscore schema check' lists the marks left. Numeric bounds are",
        f"# {bounds}; vocabularies are the values found in this file.",
        *(f"# {line}" for line in textwrap.wrap(DISCLOSURE_WARNING, 86)),
        "# Roles are guesses (the comment after each says why): check every one against",
        "# the task schema guide (docs/task-schema.md).",
        "schema_version = 1",
    ]


def _task(path: Path) -> list[str]:
    stem = path.name.split(".", 1)[0]
    name = re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_") or "task"
    return [
        "",
        "[task]",
        f"name = {json.dumps(name)}",
        'version = "1"',
        f"purpose = {_PLACEHOLDER}  # the purpose customers consented to, e.g. "
        '"credit_risk_scoring"; it names each party\'s key ring folder',
        'description = ""',
    ]


def _deidentification(guesses: list[ColumnGuess]) -> list[str]:
    rules = DeidentificationRules()
    unit = _privacy_unit(guesses)
    quasi = [g.spec.name for g in guesses if g.spec.is_quasi_identifier and g.spec.keep]
    lines = [
        "",
        "[deidentification]",
        f"rules_version = {json.dumps(rules.rules_version)}",
        f'pseudonymizer = {json.dumps(rules.pseudonymizer)}  # or "hmac-sm3"',
    ]
    if unit is None:
        why = "no identifier found; true only if each row is a different person"
        lines.append(f'privacy_unit = "row"  {mark_comment(why)}')
    elif not any(g.spec.name == unit and g.spec.role == Role.CUSTOMER_KEY for g in guesses):
        lines.append(f"privacy_unit = {json.dumps(unit)}  # a person, identified across rows")
    return [
        *lines,
        f"max_rows_per_customer = {rules.max_rows_per_customer}",
        f"k_min = {rules.k_min}  # over {', '.join(quasi) or 'no quasi-identifier'}",
        f"max_suppression_rate = {rules.max_suppression_rate}",
    ]


def _privacy_unit(guesses: list[ColumnGuess]) -> str | None:
    """The column identifying a person: a resident-ID column, else the customer key."""
    for role, action in ((Role.DIRECT_IDENTIFIER, "pseudonymize"), (Role.CUSTOMER_KEY, "drop")):
        for guess in guesses:
            if guess.spec.role == role and guess.spec.action == action:
                return guess.spec.name
    return None


def _column(
    guess: ColumnGuess, bounds: dict[str, tuple[float, float]], dp_epsilon: float | None
) -> list[str]:
    """The lines of one `[[columns]]` entry (after its header)."""
    spec = guess.spec
    lines = [f"name = {json.dumps(spec.name)}", f'role = "{spec.role.value}"  # {guess.reason}']
    if spec.action != "drop":
        lines.append(f'action = "{spec.action}"')
    if spec.quasi_identifier:
        lines.append("quasi_identifier = true")
    if spec.generalize is not None:
        rule = spec.generalize
        value = f"band = {number_text(rule.band)}" if rule.band else f'date = "{rule.date_level}"'
        lines.append(f"generalize = {{ {value} }}  # coarsened before k-anonymity is measured")
    if not spec.keep:
        lines.append("keep = false  # scanned for personal information, then dropped")
    if spec.role == Role.NUMERIC:
        lines += _bounds(bounds.get(spec.name), dp_epsilon, len(bounds))
    lines += _values(spec, guess.values_from_data)
    return lines


def _bounds(found: tuple[float, float] | None, dp_epsilon: float | None, count: int) -> list[str]:
    if found is None or dp_epsilon is None:
        return [
            f"min = {_PLACEHOLDER}  # the agreed lower bound: smaller values are clipped to it",
            f"max = {_PLACEHOLDER}  # the agreed upper bound: larger values are clipped to it",
        ]
    share = epsilon_per_bound(dp_epsilon, count)
    return [
        f"min = {number_text(found[0])}  "
        + mark_comment(f"DP estimate of the {LOW_QUANTILE:.0%} quantile (ε = {share:.3g})"),
        f"max = {number_text(found[1])}  "
        + mark_comment(f"DP estimate of the {HIGH_QUANTILE:.0%} quantile (ε = {share:.3g})"),
    ]


def _values(spec: ColumnSpec, from_data: bool) -> list[str]:
    """The values a label, consent or categorical column declares."""
    mark = "  " + mark_comment("found in this file; list every value any party may hold")
    if spec.role == Role.LABEL:
        positive, negative = _toml(_code(spec.positive)), _toml(_code(spec.negative))
        return [f"positive = {positive}", f"negative = {negative}"]
    if spec.role == Role.CONSENT:
        granted = _toml_list([_code(v) for v in spec.granted])
        lines = [f"granted = {granted}{mark if from_data else ''}"]
        if spec.refused:
            lines.append(f"refused = {_toml_list([_code(v) for v in spec.refused])}")
        return lines
    if spec.role == Role.CATEGORICAL and spec.categorical is not None:
        categories = spec.categorical.categories
        written: list[int | str] = (
            [int(c) for c in categories] if spec.categorical.integer_codes else list(categories)
        )
        return [f"categories = {_toml_list(written)}{mark if from_data else ''}"]
    return []


def _missing_roles(guesses: list[ColumnGuess]) -> list[str]:
    lines = []
    for role, what in ((Role.CUSTOMER_KEY, "a customer key"), (Role.LABEL, "a 0/1 label")):
        if not any(g.spec.role == role for g in guesses):
            lines += [
                "",
                mark_comment(
                    f"no column looks like {what}; a task needs exactly one "
                    f'(role = "{role.value}"): declare it above'
                ),
            ]
    return lines


def _code(text: str | None) -> int | str:
    """A label or consent value as the schema declares it: an integer when it reads as one."""
    text = text or ""
    return int(text) if re.fullmatch(r"-?[0-9]+", text) else text


def _toml(value: int | str) -> str:
    return str(value) if isinstance(value, int) else json.dumps(value, ensure_ascii=False)


def _toml_list(values: Sequence[int | str]) -> str:
    return "[" + ", ".join(map(_toml, values)) + "]"
