"""A node's local data, ready to train on: validated, de-identified, split and encoded."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from fedscore.clients.node import NodeConfig
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.schema import TaskSchema
from fedscore.core.tabular import file_sha256, header_lines, read_table
from fedscore.core.validation import validate_frame
from fedscore.privacy.consent import ConsentTable
from fedscore.privacy.deidentification import DeidentificationReport
from fedscore.privacy.deidentification.consent_source import consent_decision, consent_table_key
from fedscore.privacy.deidentification.pipeline import (
    PRIVACY_UNIT_COLUMN,
    deidentify_scanned,
    scan_for_pii,
)
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
            encoding), for node-side analysis and benchmarks; never sent anywhere. None
            when the table came through the node's cache (`clients.data_cache`), which
            stores encoded rows only.
    """

    data_version: str
    train_x: np.ndarray
    train_y: np.ndarray
    valid_x: np.ndarray
    valid_y: np.ndarray
    report: DeidentificationReport
    train_rows: pd.DataFrame | None = None


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


def load_party_data(
    node: NodeConfig, schema: TaskSchema, as_of: date | None = None, keep_rows: bool = True
) -> PartyData:
    """Read, validate, de-identify (consent, pseudonyms, k-anonymity), split and encode.

    Does all of it on every call; a node loads its table through its on-disk cache
    (`fedscore.clients.data_cache`), which calls this only when an input changed. Each
    form of the table is let go as soon as the next exists (raw text once scanned,
    consent records once decided, validated once de-identified, the encoded matrix once
    split), which keeps a party
    of a million customers under 2 GB.

    Args:
        node: The institution's node: its table, keys and consent records.
        schema: The task: roles, de-identification rules, encoding.
        as_of: Date consent is evaluated at; today (UTC) by default, so a withdrawal takes
            effect at the next round.
        keep_rows: also return the de-identified training rows (`PartyData.train_rows`).
    """
    check_apart(node.keys, node.data_path)
    key = KeyRing(node.keys, schema.purpose).current()
    source = str(node.data_path)
    consent = (
        ConsentTable.load(node.consent_table, consent_table_key(schema, source))
        if node.consent_table
        else None
    )
    raw = read_table(node.data_path)
    header = header_lines(node.data_path)
    table = validate_frame(raw, schema, source=source, header=header)
    pii_scan = scan_for_pii(raw, schema, source, header)
    del raw
    version = file_sha256(node.data_path)
    day = as_of or datetime.now(UTC).date()
    decision = consent_decision(table.frame, schema, day, consent, source, node.consent_basis)
    del consent
    deidentified = deidentify_scanned(table, schema, key, version, day, decision, pii_scan)
    del table
    held_out = validation_mask(
        deidentified.frame[PRIVACY_UNIT_COLUMN].to_numpy(dtype=object), node.validation_fraction
    )
    labels = deidentified.table.labels
    features = FeatureEncoder(schema).transform(deidentified.table)
    train_x, valid_x = features[~held_out], features[held_out]
    del features
    return PartyData(
        data_version=version,
        train_x=train_x,
        train_y=labels[~held_out],
        valid_x=valid_x,
        valid_y=labels[held_out],
        report=deidentified.report,
        train_rows=deidentified.frame[~held_out].reset_index(drop=True) if keep_rows else None,
    )
