"""Encoding comes from the schema alone: identical vectors for the same customer everywhere."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedscore.core.encoding import FeatureEncoder
from fedscore.core.validation import validate_frame


def test_same_customer_same_vector_at_every_party(market, schema):
    encoder = FeatureEncoder(schema)
    bank = market.parties["large_bank"].head(400)
    facilitator = market.parties["loan_facilitator"].head(400)
    # The same customer (all fields but the institution's own key) held by both parties,
    # surrounded by very different populations.
    shared = bank.iloc[[17]].copy()
    shared_at_facilitator = shared.assign(customer_id="LF-shared")
    at_bank = encoder.transform(validate_frame(bank, schema))[17]
    mixed = encoder.transform(
        validate_frame(pd.concat([facilitator, shared_at_facilitator]), schema)
    )[-1]
    alone = encoder.transform(validate_frame(shared_at_facilitator, schema))[0]
    np.testing.assert_array_equal(at_bank, mixed)
    np.testing.assert_array_equal(at_bank, alone)


def test_encoding_is_bounded_and_named(market, schema):
    encoder = FeatureEncoder(schema)
    matrix = encoder.transform(validate_frame(market.parties["city_bank"], schema))
    assert matrix.shape == (len(market.parties["city_bank"]), encoder.n_features)
    assert matrix.dtype == np.float32
    assert matrix.min() >= 0.0 and matrix.max() <= 1.0
    assert len(set(encoder.feature_names)) == encoder.n_features
    # One-hot groups: exactly one level is on per categorical feature.
    pay0 = [i for i, n in enumerate(encoder.feature_names) if n.startswith("PAY_0=")]
    np.testing.assert_array_equal(matrix[:, pay0].sum(axis=1), 1.0)


def test_out_of_bounds_values_are_clipped_not_rejected(market, schema):
    table = market.parties["city_bank"].head(3).copy()
    table.loc[0, "LIMIT_BAL"] = 50_000_000  # above the agreed max of 1,000,000
    matrix = FeatureEncoder(schema).transform(validate_frame(table, schema))
    assert matrix[0, 0] == 1.0
