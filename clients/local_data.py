"""A node's local data, ready to train on: validated, consent-filtered, split and encoded."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from fedscore.clients.node import NodeConfig
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.schema import TaskSchema
from fedscore.core.tabular import file_sha256
from fedscore.core.validation import ValidatedTable, load_validated


@dataclass(frozen=True)
class ConsentCounts:
    """How many rows the consent filter kept and excluded (aggregates only)."""

    rows_read: int
    excluded_no_consent: int

    @property
    def rows_used(self) -> int:
        return self.rows_read - self.excluded_no_consent


@dataclass(frozen=True)
class PartyData:
    """Encoded training and validation rows of one party.

    Attributes:
        data_version: SHA-256 of the raw file; the privacy budget is per data version.
        train_x, train_y: rows trained on.
        valid_x, valid_y: rows held out for federated evaluation.
        consent: consent filter counts.
    """

    data_version: str
    train_x: np.ndarray
    train_y: np.ndarray
    valid_x: np.ndarray
    valid_y: np.ndarray
    consent: ConsentCounts


def validation_mask(customer_keys: np.ndarray, fraction: float) -> np.ndarray:
    """Stable hold-out: a customer is in validation iff a hash of its key says so."""
    buckets = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(str(k).encode(), digest_size=4).digest(), "big")
            for k in customer_keys
        ),
        dtype=np.uint64,
        count=len(customer_keys),
    )
    return (buckets % 10_000) < round(fraction * 10_000)


def load_party_data(node: NodeConfig, schema: TaskSchema) -> PartyData:
    """Read, validate, consent-filter, split and encode the node's table."""
    table = load_validated(node.data_path, schema)
    return prepare_party_data(table, schema, node.validation_fraction, file_sha256(node.data_path))


def prepare_party_data(
    table: ValidatedTable, schema: TaskSchema, validation_fraction: float, data_version: str
) -> PartyData:
    frame = table.frame
    keep = np.ones(len(frame), dtype=bool)
    if schema.consent is not None:
        keep = frame[schema.consent.name].to_numpy(dtype=bool)
    consent = ConsentCounts(rows_read=len(frame), excluded_no_consent=int((~keep).sum()))
    features = FeatureEncoder(schema).transform(table)[keep]
    labels = table.labels[keep]
    keys = frame[schema.customer_key.name].to_numpy(dtype=object)[keep]
    held_out = validation_mask(keys, validation_fraction)
    return PartyData(
        data_version=data_version,
        train_x=features[~held_out],
        train_y=labels[~held_out],
        valid_x=features[held_out],
        valid_y=labels[held_out],
        consent=consent,
    )
