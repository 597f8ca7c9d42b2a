"""Consent: only rows with valid authorization for the task's purpose are used."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from fedscore.core.errors import TableValidationError
from fedscore.core.schema import parse_schema
from fedscore.core.tabular import write_table
from fedscore.core.validation import validate_frame
from fedscore.privacy.consent import ConsentTable, from_column

RECORDS = pd.DataFrame(
    {
        "customer_id": ["A", "B", "C", "D", "E", "E", "F"],
        "purpose": ["credit_risk_scoring"] * 5 + ["credit_risk_scoring", "marketing"],
        "granted_at": [
            "2024-01-01",
            "2024-01-01",
            "2024-01-01",
            "2027-01-01",
            "2023-01-01",
            "2025-06-01",
            "2024-01-01",
        ],
        "expires_at": ["", "2025-01-01", "", "", "2024-01-01", "", ""],
        "withdrawn_at": ["", "", "2026-03-01", "", "", "", ""],
    }
)
KEYS = np.array(["A", "B", "C", "D", "E", "F", "G"], dtype=object)


def _table(tmp_path, records: pd.DataFrame = RECORDS) -> ConsentTable:
    write_table(records, tmp_path / "consent.csv")
    return ConsentTable.load(tmp_path / "consent.csv", "customer_id")


def test_each_reason_is_counted(tmp_path):
    decision = _table(tmp_path).decide(KEYS, "credit_risk_scoring", date(2026, 11, 25))
    # A valid; B expired; C withdrawn; D not yet granted; E: an old expired and a newer
    # valid record → valid; F only consented to marketing; G has no record.
    assert decision.allowed.tolist() == [True, False, False, False, True, False, False]
    counts = decision.counts
    assert (
        counts.valid,
        counts.expired,
        counts.withdrawn,
        counts.not_yet_granted,
        counts.no_record,
    ) == (2, 1, 1, 1, 2)
    assert counts.excluded == 5 and counts.as_of == "2026-11-25"


def test_the_date_decides(tmp_path):
    table = _table(tmp_path)
    before_withdrawal = table.decide(KEYS, "credit_risk_scoring", date(2026, 2, 28))
    assert before_withdrawal.allowed[2]  # C withdrew only on 2026-03-01
    on_withdrawal = table.decide(KEYS, "credit_risk_scoring", date(2026, 3, 1))
    assert not on_withdrawal.allowed[2]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("granted_at", "yesterday", "row 2 (line 3), column 'granted_at': not a date"),
        ("expires_at", "2023-01-01", "row 2 (line 3), column 'expires_at': expires before"),
        ("customer_id", "", "row 2 (line 3), column 'customer_id': value is missing"),
    ],
)
def test_bad_consent_records_name_file_row_and_column(tmp_path, column, value, expected):
    records = RECORDS.copy()
    records.loc[1, column] = value
    with pytest.raises(TableValidationError) as caught:
        _table(tmp_path, records)
    assert str(tmp_path / "consent.csv") in str(caught.value)
    assert expected in str(caught.value)


def test_missing_consent_column(tmp_path):
    with pytest.raises(TableValidationError, match="column 'withdrawn_at': required consent"):
        _table(tmp_path, RECORDS.drop(columns=["withdrawn_at"]))


CONSENT_COLUMN = """
[[columns]]
name = "ok"
role = "consent"
granted = ["Y"]
refused = ["N"]
"""


def test_consent_column_mode_and_its_errors(minimal_schema):
    schema = parse_schema(minimal_schema + CONSENT_COLUMN)
    frame = pd.DataFrame(
        {"id": ["a", "b", "c"], "ok": ["Y", "N", "Y"], "y": [0, 1, 0], "x": [1, 2, 3]}
    )
    table = validate_frame(frame, schema)
    decision = from_column(table.frame["ok"].to_numpy(dtype=bool))
    assert decision.allowed.tolist() == [True, False, True] and decision.counts.excluded == 1
    frame.loc[2, "ok"] = "maybe"
    with pytest.raises(TableValidationError, match="row 3, column 'ok': unrecognised consent"):
        validate_frame(frame, schema)
