"""De-identification at the node: identifiers dropped or pseudonymized, PII scan, k-anonymity."""

from __future__ import annotations

import json
import time
from datetime import date

import numpy as np
import pandas as pd
import pytest

from fedscore.clients.data_cache import PartyDataCache
from fedscore.clients.local_data import load_party_data
from fedscore.clients.node import NodeConfig
from fedscore.core.schema import parse_schema
from fedscore.core.tabular import write_table
from fedscore.core.validation import validate_frame
from fedscore.privacy.deidentification import (
    DEIDENTIFIED_LABEL,
    DeidentificationRefused,
    deidentify,
)
from fedscore.privacy.deidentification.generalization import generalize
from fedscore.privacy.deidentification.kanonymity import enforce_k_anonymity
from fedscore.privacy.deidentification.pipeline import PRIVACY_UNIT_COLUMN, PSEUDONYM_COLUMN
from fedscore.privacy.keys import KeyRing

TODAY = date(2026, 11, 25)


@pytest.fixture()
def key(tmp_path):
    ring = KeyRing(tmp_path / "keys", "credit_risk_scoring")
    ring.init("large_bank")
    return ring.current()


def _run(table, schema, key, consent=None):
    validated = validate_frame(table, schema, source="bank.csv")
    return deidentify(table, validated, schema, key, "sha", TODAY, consent)


def _all_granted(table):
    from fedscore.privacy.consent import ConsentTable

    frame = pd.DataFrame(
        {
            "customer_id": table["customer_id"].astype("string"),
            "purpose": "credit_risk_scoring",
            "granted_at": pd.Timestamp("2020-01-01"),
            "expires_at": pd.NaT,
            "withdrawn_at": pd.NaT,
        }
    )
    return ConsentTable(frame, "customer_id")


def test_direct_identifiers_never_reach_the_output(party_table, schema, key):
    result = _run(party_table, schema, key, _all_granted(party_table))
    out = result.frame
    for column in ("name", "mobile", "card_number", "customer_id", "province", "city", "district"):
        assert column not in out
    raw_values = set(party_table["id_number"]) | set(party_table["customer_id"])
    assert not raw_values & set(out["id_number"]) and not raw_values & set(out[PSEUDONYM_COLUMN])
    assert out["id_number"].str.startswith("v1:").all()
    assert out[PRIVACY_UNIT_COLUMN].is_unique  # one row per person
    assert set(out["AGE"]) <= {25.0, 35.0, 45.0, 55.0, 65.0, 75.0, 85.0}
    assert set(out["application_date"]) <= {"2004", "2005"}


def test_report_counts_and_labels(party_table, schema, key):
    report = _run(party_table, schema, key, _all_granted(party_table)).report
    assert report.label == DEIDENTIFIED_LABEL
    assert "去标识化" in report.label and "not anonymized" in report.label
    assert report.k_achieved >= report.k_min == 5
    assert report.suppression_rate <= 0.05
    assert report.rows["read"] == len(party_table)
    assert report.rows_over_customer_bound > 0  # the bank's two-card customers
    treatments = {c.column: c.action for c in report.columns}
    assert treatments["name"] == "dropped"
    assert "pseudonym" in treatments["id_number"] and "pseudonym" in treatments["customer_id"]
    assert treatments["AGE"].startswith("generalized to 10-wide bands")
    assert treatments["district"].startswith("scanned, then dropped")
    assert report.key_version == 1 and report.pii_scan["hits"] == 0
    text = json.dumps(report.as_dict(), ensure_ascii=False)
    for value in party_table["id_number"].head(50):
        assert value not in text


def test_undeclared_pii_stops_the_node_naming_column_detector_count(party_table, schema, key):
    table = party_table.copy()
    table["notes"] = "正常"
    table.loc[[3, 8, 9], "notes"] = ["客户电话13812345678", "回访13912345678已接通", "无"]
    with pytest.raises(DeidentificationRefused) as caught:
        _run(table, schema, key, _all_granted(table))
    message = str(caught.value)
    assert "column 'notes': 2 × mobile, the first in row 4" in message
    assert "13812345678" not in message and "13912345678" not in message


def test_pii_in_a_declared_quasi_identifier_is_caught(party_table, schema, key):
    table = party_table.copy()
    table.loc[[1, 2, 3], "district"] = table.loc[[1, 2, 3], "id_number"].to_numpy()
    with pytest.raises(DeidentificationRefused, match=r"column 'district': 3 × resident_id"):
        _run(table, schema, key, _all_granted(table))


def test_too_much_suppression_refuses(party_table, schema, key):
    small = party_table.head(400)
    with pytest.raises(DeidentificationRefused, match=r"would suppress .* above the allowed 5.0%"):
        _run(small, schema, key, _all_granted(small))


def test_k_anonymity_suppresses_small_classes():
    frame = pd.DataFrame({"sex": list("MMMFFM"), "band": [30, 30, 30, 40, 40, 50]})
    result = enforce_k_anonymity(frame, ["sex", "band"], k_min=2)
    assert result.kept.tolist() == [True, True, True, True, True, False]
    assert (result.k_before, result.k_achieved, result.suppressed, result.classes) == (1, 2, 1, 2)
    assert result.suppression_rate == pytest.approx(1 / 6)


QUASI_IDENTIFIERS = """
[deidentification]
k_min = 2
hierarchies = [{ levels = ["district", "city", "province"], release = "city" }]

[[columns]]
name = "age"
role = "numeric"
quasi_identifier = true
generalize = { band = 5 }
min = 0
max = 100

[[columns]]
name = "opened"
role = "quasi_identifier"
generalize = { date = "month" }

[[columns]]
name = "district"
role = "quasi_identifier"

[[columns]]
name = "city"
role = "quasi_identifier"

[[columns]]
name = "province"
role = "quasi_identifier"
"""


def test_generalization_by_band_date_and_hierarchy(minimal_schema):
    schema = parse_schema(minimal_schema + QUASI_IDENTIFIERS)
    frame = pd.DataFrame(
        {
            "age": [31.0, 34.0, 47.0],
            "opened": pd.to_datetime(["2024-03-05", "2024-03-28", "2025-11-30"]),
            "district": ["海淀区", "朝阳区", "天河区"],
            "city": ["北京市", "北京市", "广州市"],
            "province": ["北京市", "北京市", "广东省"],
        }
    )
    out, actions = generalize(frame, schema)
    assert out["age"].tolist() == [32.5, 32.5, 47.5]
    assert out["opened"].tolist() == ["2024-03", "2024-03", "2025-11"]
    assert out["district"].tolist() == ["北京市", "北京市", "广州市"]
    assert out["province"].tolist() == ["北京市", "北京市", "广东省"]
    assert actions["district"] == "generalized to city (district → city → province)"
    result = enforce_k_anonymity(out, ["age", "opened", "district", "city", "province"], 2)
    assert result.kept.tolist() == [True, True, False]


def test_consent_withdrawal_takes_effect_at_the_next_round(tmp_path, market, schema, make_node):
    bank = market.parties["large_bank"]
    node = NodeConfig.from_toml(make_node(tmp_path / "bank", "bank", bank))
    load = PartyDataCache(remember=True)
    first = load(node, schema)
    assert first is load(node, schema)  # unchanged inputs: served from the cache
    consent = pd.read_csv(node.consent_table, dtype=str, keep_default_na=False)
    withdrawn = consent["customer_id"].head(120)
    consent.loc[consent["customer_id"].isin(withdrawn), "withdrawn_at"] = "2026-01-01"
    time.sleep(0.01)
    write_table(consent, node.consent_table)
    second = load(node, schema)
    assert second.report.consent["withdrawn"] == 120
    assert second.report.rows["with_consent"] == first.report.rows["with_consent"] - 120


def test_every_row_needs_consent_for_the_purpose(tmp_path, market, schema, make_node):
    party_table = market.parties["large_bank"]
    consent = pd.DataFrame(
        {
            "customer_id": party_table["customer_id"],
            "purpose": np.where(
                np.arange(len(party_table)) % 10 == 0, "marketing", "credit_risk_scoring"
            ),
            "granted_at": "2020-01-01",
            "expires_at": "",
            "withdrawn_at": "",
        }
    )
    node = NodeConfig.from_toml(make_node(tmp_path / "b", "b", party_table, consent=consent))
    report = load_party_data(node, schema).report
    assert report.consent["no_record"] == (np.arange(len(party_table)) % 10 == 0).sum()
