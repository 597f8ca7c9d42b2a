"""A node's local data, ready to train on: validated, de-identified, split and encoded."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from fedscore.clients.node import NodeConfig
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.schema import TaskSchema
from fedscore.core.tabular import file_sha256, header_lines, read_table
from fedscore.core.validation import validate_frame
from fedscore.privacy.consent import ConsentTable
from fedscore.privacy.deidentification import DeidentificationReport, deidentify
from fedscore.privacy.deidentification.pipeline import PRIVACY_UNIT_COLUMN
from fedscore.privacy.keys import KeyRing, check_apart


@dataclass(frozen=True)
class PartyData:
    """Encoded training and validation rows of one party.

    Attributes:
        data_version: SHA-256 of the raw file; the privacy budget is per data version.
        train_x, train_y: rows trained on.
        valid_x, valid_y: rows held out for federated evaluation.
        report: how the table was de-identified (counts only).
        train_rows: the de-identified rows trained on (features and label, before
            encoding), for node-side analysis and benchmarks; never sent anywhere.
    """

    data_version: str
    train_x: np.ndarray
    train_y: np.ndarray
    valid_x: np.ndarray
    valid_y: np.ndarray
    report: DeidentificationReport
    train_rows: pd.DataFrame


PartyDataLoader = Callable[[NodeConfig, TaskSchema], "PartyData"]


def validation_mask(units: np.ndarray, fraction: float) -> np.ndarray:
    """Stable hold-out: a person is in validation iff a hash of their pseudonym says so."""
    buckets = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(str(k).encode(), digest_size=4).digest(), "big")
            for k in units
        ),
        dtype=np.uint64,
        count=len(units),
    )
    return (buckets % 10_000) < round(fraction * 10_000)


def load_party_data(node: NodeConfig, schema: TaskSchema, as_of: date | None = None) -> PartyData:
    """Read, validate, de-identify (consent, pseudonyms, k-anonymity), split and encode.

    Args:
        node: The institution's node: its table, keys and consent records.
        schema: The task: roles, de-identification rules, encoding.
        as_of: Date consent is evaluated at; today (UTC) by default, so a withdrawal takes
            effect at the next round.
    """
    check_apart(node.keys, node.data_path)
    key = KeyRing(node.keys, schema.purpose).current()
    consent = (
        ConsentTable.load(node.consent_table, schema.customer_key.name)
        if node.consent_table
        else None
    )
    raw = read_table(node.data_path)
    table = validate_frame(
        raw, schema, source=str(node.data_path), header=header_lines(node.data_path)
    )
    version = file_sha256(node.data_path)
    deidentified = deidentify(
        raw, table, schema, key, version, as_of or datetime.now(UTC).date(), consent
    )
    features = FeatureEncoder(schema).transform(deidentified.table)
    labels = deidentified.table.labels
    held_out = validation_mask(
        deidentified.frame[PRIVACY_UNIT_COLUMN].to_numpy(dtype=object), node.validation_fraction
    )
    return PartyData(
        data_version=version,
        train_x=features[~held_out],
        train_y=labels[~held_out],
        valid_x=features[held_out],
        valid_y=labels[held_out],
        report=deidentified.report,
        train_rows=deidentified.frame[~held_out].reset_index(drop=True),
    )


class CachedPartyData:
    """Loads a node's data once per state of its inputs, not once per round.

    The cache key covers everything the result depends on: the data file and consent
    table (size and modification time), the current key version, the schema and the
    date consent is evaluated at — so a withdrawn consent or a rotated key still takes
    effect at the next round. Holds the latest entry per party (a simulated process may
    play several parties).
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[tuple[object, ...], PartyData]] = {}

    def __call__(self, node: NodeConfig, schema: TaskSchema) -> PartyData:
        key = (
            _file_state(node.data_path),
            _file_state(node.consent_table) if node.consent_table else None,
            KeyRing(node.keys, schema.purpose).current().version,
            schema.sha256,
            datetime.now(UTC).date(),
        )
        cached = self._entries.get(node.party)
        if cached is None or cached[0] != key:
            cached = (key, load_party_data(node, schema))
            self._entries[node.party] = cached
        return cached[1]


def _file_state(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path), stat.st_size, stat.st_mtime_ns)
