"""Bad input: every kind gets an error naming file, row and column, never the value."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fedscore.core.errors import TableReadError, TableValidationError
from fedscore.core.tabular import write_table
from fedscore.core.validation import load_validated

SECRET = "SECRET-7731"  # a value that must never appear in an error message


def _write(tmp_path: Path, table: pd.DataFrame, name: str = "bank.csv") -> Path:
    path = tmp_path / name
    write_table(table, path)
    return path


def _problem(path: Path, schema) -> str:
    with pytest.raises(TableValidationError) as caught:
        load_validated(path, schema)
    return str(caught.value)


def test_valid_table_loads_typed(tmp_path, party_table, schema):
    table = load_validated(_write(tmp_path, party_table), schema)
    assert len(table.frame) == len(party_table)
    assert set(table.labels) == {0, 1}
    assert table.frame["LIMIT_BAL"].dtype == "float64"


def test_missing_column_is_named(tmp_path, party_table, schema):
    path = _write(tmp_path, party_table.drop(columns=["PAY_AMT3"]))
    message = _problem(path, schema)
    assert str(path) in message
    assert "column 'PAY_AMT3'" in message and "missing from the header" in message


def test_wrong_type_names_row_line_and_column_not_value(tmp_path, party_table, schema):
    party_table["BILL_AMT2"] = party_table["BILL_AMT2"].astype(str)
    party_table.loc[41, "BILL_AMT2"] = SECRET
    path = _write(tmp_path, party_table)
    message = _problem(path, schema)
    assert f"{path}, row 42 (line 43), column 'BILL_AMT2': wrong type" in message
    assert SECRET not in message


@pytest.mark.parametrize("name", ["bank.csv", "bank.csv.gz"])
def test_rows_after_a_multi_line_field_are_named_by_row_not_by_a_wrong_line(
    tmp_path, party_table, schema, name
):
    """A quoted field holding a line break (an address over two lines) shifts every later
    row's line: the message names the row alone, never a line that holds another row."""
    party_table["name"] = party_table["name"].astype(str)
    party_table.loc[3, "name"] = "first line\nsecond line"
    party_table["BILL_AMT2"] = party_table["BILL_AMT2"].astype(str)
    party_table.loc[41, "BILL_AMT2"] = SECRET
    message = _problem(_write(tmp_path, party_table, name), schema)
    assert "row 42, column 'BILL_AMT2': wrong type" in message
    assert "(line" not in message and SECRET not in message


def test_rows_after_a_blank_line_are_named_by_row(tmp_path, party_table, schema):
    party_table["BILL_AMT2"] = party_table["BILL_AMT2"].astype(str)
    party_table.loc[41, "BILL_AMT2"] = SECRET
    path = _write(tmp_path, party_table)
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines[:10], "", *lines[10:]]) + "\n", encoding="utf-8")
    message = _problem(path, schema)
    assert "row 42, column 'BILL_AMT2'" in message and "(line" not in message


def test_quoted_fields_on_one_line_keep_line_numbers(tmp_path, party_table, schema):
    party_table["name"] = party_table["name"].astype(str) + ", jr."  # quoted by the writer
    party_table["BILL_AMT2"] = party_table["BILL_AMT2"].astype(str)
    party_table.loc[41, "BILL_AMT2"] = SECRET
    message = _problem(_write(tmp_path, party_table), schema)
    assert "row 42 (line 43), column 'BILL_AMT2'" in message


def test_unknown_category_lists_allowed_values(tmp_path, party_table, schema):
    party_table.loc[9, "EDUCATION"] = 9
    message = _problem(_write(tmp_path, party_table), schema)
    assert "row 10 (line 11), column 'EDUCATION': unknown category" in message
    assert "allowed: 0, 1, 2, 3, 4, 5, 6" in message


def test_non_binary_label(tmp_path, party_table, schema):
    party_table.loc[0, "default.payment.next.month"] = 2
    message = _problem(_write(tmp_path, party_table), schema)
    assert "row 1 (line 2), column 'default.payment.next.month': label is not binary" in message


def test_missing_value_in_feature(tmp_path, party_table, schema):
    party_table["AGE"] = party_table["AGE"].astype("object")
    party_table.loc[5, "AGE"] = None
    message = _problem(_write(tmp_path, party_table), schema)
    assert "row 6 (line 7), column 'AGE': value is missing" in message


def test_missing_customer_key(tmp_path, party_table, schema):
    party_table.loc[7, "customer_id"] = ""
    message = _problem(_write(tmp_path, party_table), schema)
    assert "row 8 (line 9), column 'customer_id': customer key is missing" in message


def test_many_problems_are_counted_and_capped(tmp_path, party_table, schema):
    party_table["PAY_0"] = 99
    with pytest.raises(TableValidationError) as caught:
        load_validated(_write(tmp_path, party_table), schema)
    assert caught.value.total == len(party_table)
    assert len(caught.value.problems) == TableValidationError.max_reported
    assert f"and {len(party_table) - 20} more" in str(caught.value)


def test_ragged_csv_names_the_line(tmp_path, party_table, schema):
    path = _write(tmp_path, party_table)
    lines = path.read_text().splitlines()
    lines[10] += ",extra,fields"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TableReadError) as caught:
        load_validated(path, schema)
    assert str(path) in str(caught.value) and "line 11" in str(caught.value)


def test_empty_file(tmp_path, schema):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(TableReadError, match="empty"):
        load_validated(path, schema)


def test_header_only_file(tmp_path, party_table, schema):
    path = _write(tmp_path, party_table.head(0))
    assert "no data rows" in _problem(path, schema)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_a_file_without_its_header_row_is_refused_without_the_customers_values(
    tmp_path, party_table, schema, suffix
):
    """A headerless export puts a customer's record where the names belong: every message
    naming a column (schema check, a node's refusal sent to the coordinator) and a drafted
    schema would carry that customer's identifiers."""
    first = party_table.iloc[0].astype(str).to_list()
    names = [value if value not in first[:i] else f"{value} {i}" for i, value in enumerate(first)]
    headerless = pd.DataFrame(party_table.iloc[1:].astype(str).to_numpy(), columns=names)
    path = _write(tmp_path, headerless, f"bank{suffix}")
    with pytest.raises(TableReadError) as caught:
        load_validated(path, schema)
    message = str(caught.value)
    assert "holds personal information" in message and "is the header row missing?" in message
    assert not any(value in message for value in first if len(value) >= 3)


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path, party_table, schema):
    """Excel's "CSV UTF-8" starts the file with a BOM (U+FEFF, a format character)."""
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeff".encode() + _write(tmp_path, party_table).read_bytes())
    assert len(load_validated(path, schema).frame) == len(party_table)


@pytest.mark.parametrize("name", ["AGE\nINFO round 3 trained", "\x1b[2JAGE", "AGE\u202e"])
def test_a_column_name_with_control_characters_is_refused(tmp_path, party_table, schema, name):
    path = _write(tmp_path, party_table.rename(columns={"AGE": name}))
    with pytest.raises(TableReadError, match="header column 14's name holds control") as caught:
        load_validated(path, schema)
    assert name not in str(caught.value)


def test_a_column_name_given_twice_is_refused(tmp_path, party_table, schema):
    path = tmp_path / "bank.csv"
    write_table(party_table, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0].replace("PAY_AMT3", "PAY_AMT2")  # pandas would read it as 'PAY_AMT2.1'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(TableReadError, match=r"names column 'PAY_AMT2' 2 times \(columns"):
        load_validated(path, schema)


def test_not_utf8(tmp_path, schema):
    path = tmp_path / "latin.csv"
    path.write_bytes("customer_id,名字\n".encode("gb18030"))
    with pytest.raises(TableReadError, match="not UTF-8"):
        load_validated(path, schema)


def test_not_utf8_names_the_line_of_a_gbk_row_never_its_bytes(tmp_path, schema):
    """A GBK export: the error points at the first row with a Chinese name, far past
    pandas' read buffer, and quotes nothing of it."""
    path = tmp_path / "gbk.csv"
    header = b"customer_id,name\n"
    rows = b"".join(f"C{i:07d},plain\n".encode() for i in range(20_000))
    path.write_bytes(header + rows + "C9,马莹\n".encode("gbk"))
    with pytest.raises(TableReadError) as caught:
        load_validated(path, schema)
    message = str(caught.value)
    assert f"line 20002, byte {len(header) + len(rows) + 3} of the file" in message
    assert "马" not in message and "\\x" not in message


def test_unsupported_format_and_missing_file(tmp_path, schema):
    with pytest.raises(TableReadError, match="unsupported file type"):
        load_validated(tmp_path / "bank.xlsx", schema)
    with pytest.raises(TableReadError, match="no such file"):
        load_validated(tmp_path / "absent.csv", schema)


def test_parquet_is_read_and_checked_the_same_way(tmp_path, party_table, schema):
    good = load_validated(_write(tmp_path, party_table, "bank.parquet"), schema)
    assert len(good.frame) == len(party_table)
    party_table["LIMIT_BAL"] = party_table["LIMIT_BAL"].astype(str)
    party_table.loc[2, "LIMIT_BAL"] = "n/a"
    path = _write(tmp_path, party_table, "bad.parquet")
    message = _problem(path, schema)
    assert f"{path}, row 3, column 'LIMIT_BAL': wrong type" in message


def test_corrupt_parquet(tmp_path, schema):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(TableReadError, match="not a readable Parquet file"):
        load_validated(path, schema)


def test_integer_codes_written_as_floats_are_accepted(tmp_path, party_table, schema):
    party_table["EDUCATION"] = party_table["EDUCATION"].astype(float)
    table = load_validated(_write(tmp_path, party_table), schema)
    assert set(table.frame["EDUCATION"]) <= set(range(7))
