"""PII scanning of tables, texts and bytes: right counts per column, never a value in the result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedscore.privacy.pii import (
    ColumnHit,
    is_valid_resident_id,
    luhn_check_digit,
    png_text,
    resident_id_check_char,
    scan_bytes,
    scan_file,
    scan_frame,
    scan_series,
    scan_text,
)

ROWS = 200
MOBILES = [13812345678, 15900001111, 18688889999, 19912345678]


def resident_ids(count: int) -> list[str]:
    """`count` distinct valid 18-character resident IDs."""
    ids = []
    for sequence in range(count):
        body = f"440305198{sequence % 10}0612{sequence:03d}"
        ids.append(body + resident_id_check_char(body))
    assert all(map(is_valid_resident_id, ids))
    return ids


def uci_like(rows: int, seed: int = 0) -> pd.DataFrame:
    """Numeric columns in the ranges of the UCI default-of-credit-card-clients table."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "ID": np.arange(1, rows + 1),
            "LIMIT_BAL": rng.integers(1, 101, rows) * 10_000,
            "SEX": rng.integers(1, 3, rows),
            "AGE": rng.integers(21, 80, rows),
            "PAY_0": rng.integers(-2, 9, rows),
            "BILL_AMT1": rng.integers(-170_000, 1_000_000, rows),
            "PAY_AMT1": rng.integers(0, 900_000, rows).astype(float),
            "default": rng.integers(0, 2, rows),
        }
    )


@pytest.fixture()
def table() -> pd.DataFrame:
    frame = uci_like(ROWS)
    notes = ["按时还款"] * ROWS
    notes[3] = "客户手机13812345678，已核实"
    notes[7] = "联系电话+86 15900001111或0086-18688889999"  # two in one value
    notes[8] = None  # type: ignore[call-overload]
    frame["备注"] = notes
    frame["phone"] = np.resize(np.array(MOBILES, dtype=np.int64), ROWS)
    frame["id_no"] = resident_ids(ROWS)
    return frame


def as_dict(hits: list[ColumnHit]) -> dict[tuple[str, str], int]:
    return {(hit.column, hit.detector): hit.count for hit in hits}


def test_scan_frame_counts_pii_per_column(table):
    hits = scan_frame(table)
    assert as_dict(hits) == {
        ("备注", "mobile"): 3,
        ("phone", "mobile"): ROWS,
        ("id_no", "resident_id"): ROWS,
    }
    assert [hit.column for hit in hits] == ["备注", "phone", "id_no"]  # column order


def test_each_hit_points_to_the_first_row_holding_a_match(table):
    first = {(hit.column, hit.detector): hit.first_row for hit in scan_frame(table)}
    assert first == {("备注", "mobile"): 3, ("phone", "mobile"): 0, ("id_no", "resident_id"): 0}
    assert (
        ColumnHit("备注", "mobile", 3, 3).first_in(header_lines=1)
        == ", the first in row 4 (line 5)"
    )
    assert ColumnHit("备注", "mobile", 3, 3).first_in(header_lines=0) == ", the first in row 4"
    assert ColumnHit("备注", "mobile", 3).first_in(header_lines=1) == ""


@pytest.mark.parametrize("position", [0, 1, 2_047, 2_048, 4_999])
@pytest.mark.parametrize("kind", ["text", "integer", "nullable integer", "float", "categorical"])
def test_the_first_row_is_found_wherever_it_lies_in_any_kind_of_column(position, kind):
    values: list[object] = [1_000 + row for row in range(5_000)]
    values[position] = MOBILES[0]
    values[-1] = MOBILES[1]  # a later one does not move the first
    series = {
        "text": lambda: pd.Series([str(v) for v in values]),
        "integer": lambda: pd.Series(values, dtype=np.int64),
        "nullable integer": lambda: pd.Series(values, dtype="Int64"),
        "float": lambda: pd.Series(values, dtype=np.float64),
        "categorical": lambda: pd.Series([str(v) for v in values], dtype="category"),
    }[kind]()
    (hit,) = scan_frame(pd.DataFrame({"contact": series}))
    assert hit.first_row == position


def test_uci_like_numeric_columns_have_no_hits():
    assert scan_frame(uci_like(50_000, seed=1)) == []


def test_column_hits_never_hold_values(table):
    hits = scan_frame(table)
    values = [str(v) for v in MOBILES] + resident_ids(ROWS) + ["13812345678"]
    for hit in hits:
        with pytest.raises(AttributeError):
            hit.count = 0  # type: ignore[misc]
        for shown in (repr(hit), str(hit), repr(hits)):
            assert not any(value in shown for value in values)


def test_columns_and_detectors_can_be_chosen(table):
    assert as_dict(scan_frame(table, columns=["phone", "LIMIT_BAL"])) == {("phone", "mobile"): ROWS}
    assert as_dict(scan_frame(table, columns="备注")) == {("备注", "mobile"): 3}
    assert as_dict(scan_frame(table, detectors=["resident_id"])) == {("id_no", "resident_id"): ROWS}
    with pytest.raises(KeyError, match="nope"):
        scan_frame(table, columns=["phone", "nope"])
    with pytest.raises(KeyError):
        scan_frame(table, detectors=["passport"])


def test_numeric_columns_of_every_kind():
    mobiles = pd.Series([13812345678.0, np.nan, 15900001111.0, 1.5e10 + 0.5, 3.0])
    assert scan_series(mobiles) == {"mobile": 2}  # NaN and non-integral values skipped
    assert scan_series(mobiles.astype("Float64")) == {"mobile": 2}
    nullable = pd.Series([13812345678, None, 86_13812345678, 42], dtype="Int64")
    assert scan_series(nullable) == {"mobile": 2}  # 8613812345678: +86 without the plus
    assert scan_series(pd.Series(MOBILES, dtype=np.uint64)) == {"mobile": 4}
    negative = pd.Series([-13812345678, np.iinfo(np.int64).min, np.iinfo(np.int64).max])
    assert scan_series(negative) == {"mobile": 1}
    assert scan_series(pd.Series([True, False])) == {}
    assert scan_series(pd.Series(pd.to_datetime(["2024-01-01"]))) == {}


def test_ids_read_as_numbers_or_objects():
    digits_only = [n for n in resident_ids(100) if not n.endswith("X")]
    assert scan_series(pd.Series([int(n) for n in digits_only])) == {
        "resident_id": len(digits_only)
    }
    mixed = pd.Series([digits_only[0], int(digits_only[1]), 13812345678, b"13812345678", 2.5])
    assert scan_series(mixed) == {"resident_id": 2, "mobile": 2}
    unhashable = pd.Series([["13812345678"], {"tel": "13812345678"}, None])
    assert scan_series(unhashable) == {"mobile": 2}


def test_repeated_and_categorical_values_count_per_row():
    values = ["电话13812345678"] * 500 + ["无"] * 500 + [None] * 10
    assert scan_series(pd.Series(values)) == {"mobile": 500}
    assert scan_series(pd.Series(values, dtype="category")) == {"mobile": 500}
    assert scan_series(pd.Series(values, dtype="string")) == {"mobile": 500}


def test_column_name_is_card_keyword_context():
    body = "622202" + "1234567890" + "12"
    broken = body + str((int(luhn_check_digit(body)) + 1) % 10)  # fails Luhn
    frame = pd.DataFrame({"卡号": [broken, "无"], "流水号": [broken, "无"]})
    frame["card_no"] = [int(broken), 0]
    assert as_dict(scan_frame(frame)) == {("卡号", "bank_card"): 1, ("card_no", "bank_card"): 1}


def test_large_text_column_prefilter_agrees_with_row_by_row_scanning():
    rng = np.random.default_rng(7)
    ids = resident_ids(300)
    card_body = "6222021234567890"
    cards = [f"卡号{card_body}{d}{luhn_check_digit(card_body + str(d))}" for d in range(10)]
    fillers = ["北京市朝阳区建国路88号", "上海浦东新区 2023年 第3期", "按时还款", "逾期 45 天"]
    pii = [f"客户{i}身份证{n}" for i, n in enumerate(ids)] + ["手机13812345678"] * 50 + cards
    pii += ["邮箱zhang.san@example.com联系", "代码91110108551385082Q。"]
    rows = [fillers[i % 4] + str(rng.integers(0, 10**6)) for i in range(20_000)] + pii
    rng.shuffle(rows)
    column = pd.Series(rows, name="remarks")
    expected: dict[str, int] = {}
    for row in rows:
        for name, count in scan_text(row).items():
            expected[name] = expected.get(name, 0) + count
    assert sum(map(len, rows)) > 1 << 16  # large enough for the digit-run prefilter
    assert expected == {
        "resident_id": 300,
        "mobile": 50,
        "bank_card": 10,
        "email": 1,
        "social_credit_code": 1,
    }
    assert scan_series(column) == expected


@settings(max_examples=1_000, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(alphabet="0123456789Xx @.-+卡号北京", max_size=30),
            st.sampled_from(["13812345678", "11010519491231002X", "a@b.cn", "+86 19912345678"]),
        ),
        max_size=40,
    )
)
def test_text_column_counts_equal_the_sum_over_rows(values):
    expected: dict[str, int] = {}
    for value in values:
        if value is not None:
            for name, count in scan_text(value).items():
                expected[name] = expected.get(name, 0) + count
    assert scan_series(pd.Series(values, dtype=object, name="x")) == expected


def test_scan_text_and_bytes():
    text = "客户张三，身份证11010519491231002X，手机13812345678，邮箱zhang.san@example.com"
    expected = {"resident_id": 1, "mobile": 1, "email": 1}
    assert scan_text(text) == expected
    assert scan_text("按时还款") == {}
    assert scan_text(text, detectors=["mobile"]) == {"mobile": 1}
    assert scan_bytes(text.encode("utf-8")) == expected
    assert scan_bytes(b"\xff\xfe13812345678\x80") == {"mobile": 1}
    body = "622202123456789012"
    broken = body + str((int(luhn_check_digit(body)) + 1) % 10)
    gbk = f"卡号{broken}".encode("gb18030")
    assert scan_bytes(gbk, encoding="gb18030") == {"bank_card": 1}


def test_png_files_are_scanned_by_the_text_they_carry(tmp_path):
    from PIL import Image, PngImagePlugin

    # Pixel bytes that spell an address: compressed, they are not text a reader sees.
    pixels = b"zhang.san@example.com " * 64
    image = Image.frombytes("L", (len(pixels) // 8, 8), pixels)
    plain = tmp_path / "plain.png"
    image.save(plain)
    assert scan_file(plain) == {}

    metadata = PngImagePlugin.PngInfo()
    metadata.add_text("Author", "手机13812345678")
    metadata.add_itxt("Comment", "邮箱zhang.san@example.com", zip=True)
    tagged = tmp_path / "tagged.png"
    image.save(tagged, pnginfo=metadata)
    assert scan_file(tagged) == {"mobile": 1, "email": 1}
    assert "Author" in png_text(tagged.read_bytes())

    other = tmp_path / "notes.txt"
    other.write_text("邮箱zhang.san@example.com", encoding="utf-8")
    assert scan_file(other) == {"email": 1}
    with pytest.raises(ValueError, match="truncated"):
        png_text(tagged.read_bytes()[:60])


def test_hex_digests_are_not_identifiers():
    # Unmasked, about 1 in 300 SHA-256 hex digests holds an 11-digit run that reads as a
    # mobile number (seen in a report hash in the run directory).
    import hashlib

    digests = " ".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(3000))
    assert scan_text(digests) == {}
    assert scan_text("回访13812345678 " + digests) == {"mobile": 1}
