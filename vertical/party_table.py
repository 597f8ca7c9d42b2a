"""A vertical party's own table, checked and reduced to what the run may use.

Read once per message that needs it, at the node, never sent: the rows whose customer
holds valid consent for the joint purpose (the party's own consent records, on the
run's evaluation date), one row per person (the first row of a resident ID held twice),
their normalized resident IDs (for the intersection only), the feature columns as
numbers, and at the label holder the 0/1 label. Every problem is named by file, row and
column, never by the value.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from fedscore.core.errors import TableProblem, TableValidationError
from fedscore.core.schema import load_schema
from fedscore.core.tabular import header_lines, read_table
from fedscore.datasets import default_task_path
from fedscore.privacy.consent import ConsentCounts, ConsentTable
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.psi.identifiers import normalize_resident_id


@dataclass(frozen=True)
class PartyTable:
    """The usable rows of a party's table.

    Attributes:
        identifiers: each usable row's normalized resident ID (stays on the node).
        features: the feature columns as float32, rows × columns, in config order.
        labels: the 0/1 labels (label holder), else None.
        data_version: SHA-256 over the usable rows' keys and values: the record-level
            budget's key, so a changed table draws on a budget of its own.
        label_version: SHA-256 over (key, label) of the usable rows ("" without labels).
        consent: how many rows the consent filter kept and why it dropped the others.
        repeated_people: rows dropped because their person already had a row.
        customer_keys: each usable row's own customer key (stays on the node; scoring
            finds a customer's row by it).
    """

    identifiers: list[str]
    features: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int8] | None
    data_version: str
    label_version: str
    consent: ConsentCounts
    repeated_people: int
    customer_keys: tuple[str, ...] = ()


def load_party_table(config: VerticalNodeConfig, as_of: date) -> PartyTable:
    """Read, check and reduce the party's table (see the module).

    Args:
        config: the node's vertical config (table, columns, consent, purpose).
        as_of: the date consent is evaluated on.

    Raises:
        TableValidationError: a column is missing, a value is not a number, a label is
            not 0 or 1, or a resident ID is not a valid one (file, row and column named).
        ConfigError, TableValidationError: the consent table is unreadable or malformed.
    """
    path = config.table
    raw = read_table(path).reset_index(drop=True)
    problems: list[TableProblem] = []
    needed = [config.key_column, config.identifier_column, *config.feature_columns]
    if config.label_column:
        needed.append(config.label_column)
    for column in needed:
        if column not in raw.columns:
            problems.append(
                TableProblem(None, column, "required column is missing from the header")
            )
    if problems:
        raise TableValidationError(path, problems, len(problems), header_lines(path))
    numbers = {c: pd.to_numeric(raw[c], errors="coerce") for c in config.feature_columns}
    for column, values in numbers.items():
        bad = values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        problems += [TableProblem(int(i) + 1, column, "not a number") for i in np.flatnonzero(bad)]
    problems += _unknown_categories(numbers)
    labels: npt.NDArray[np.int8] | None = None
    if config.label_column:
        label = pd.to_numeric(raw[config.label_column], errors="coerce")
        bad = ~label.isin([0, 1]).to_numpy()
        problems += [
            TableProblem(int(i) + 1, config.label_column, "the label must be 0 or 1")
            for i in np.flatnonzero(bad)
        ]
        labels = label.fillna(0).to_numpy().astype(np.int8)
    normalized = [
        normalize_resident_id(str(v)) if pd.notna(v) else None
        for v in raw[config.identifier_column]
    ]
    problems += [
        TableProblem(i + 1, config.identifier_column, "not a valid resident ID")
        for i, value in enumerate(normalized)
        if value is None
    ]
    keys = raw[config.key_column].astype("string").str.strip().fillna("")
    problems += [
        TableProblem(int(i) + 1, config.key_column, "customer key is missing")
        for i in np.flatnonzero((keys == "").to_numpy())
    ]
    if problems:
        limit = TableValidationError.max_reported
        raise TableValidationError(path, problems[:limit], len(problems), header_lines(path))
    consent = ConsentTable.load(config.consent_table, config.key_column)
    decision = consent.decide(keys.to_numpy(dtype=object), config.purpose, as_of)
    allowed = np.asarray(decision.allowed, dtype=bool)
    seen: set[str] = set()
    keep = np.zeros(len(raw), dtype=bool)
    repeated = 0
    for index in np.flatnonzero(allowed):
        person = normalized[index]
        assert person is not None  # checked above
        if person in seen:
            repeated += 1
            continue
        seen.add(person)
        keep[index] = True
    features = np.column_stack(
        [numbers[c].to_numpy(dtype=np.float32) for c in config.feature_columns]
    )
    kept_keys = keys.to_numpy(dtype=object)[keep]
    kept_labels = labels[keep] if labels is not None else None
    return PartyTable(
        identifiers=[str(normalized[i]) for i in np.flatnonzero(keep)],
        features=np.ascontiguousarray(features[keep]),
        labels=kept_labels,
        data_version=_digest(kept_keys, features[keep]),
        label_version=_digest(kept_keys, kept_labels) if kept_labels is not None else "",
        consent=decision.counts,
        repeated_people=repeated,
        customer_keys=tuple(str(key) for key in kept_keys),
    )


def _unknown_categories(numbers: dict[str, pd.Series]) -> list[TableProblem]:
    """Values of a categorical column that the task schema does not declare."""
    schema = load_schema(default_task_path())
    found: list[TableProblem] = []
    for spec in schema.features:
        if spec.name not in numbers or spec.categorical is None:
            continue
        declared = {float(c) for c in spec.categorical.categories if _is_number(c)}
        values = numbers[spec.name]
        unknown = values.notna().to_numpy() & ~values.isin(declared).to_numpy()
        found += [
            TableProblem(int(i) + 1, spec.name, "unknown category (not declared by the task)")
            for i in np.flatnonzero(unknown)
        ]
    return found


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _digest(keys: npt.NDArray[np.object_], values: npt.NDArray[np.generic]) -> str:
    digest = hashlib.sha256()
    for key in keys:
        digest.update(str(key).encode("utf-8") + b"\x00")
    digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()
