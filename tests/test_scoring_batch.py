"""Batch scoring of a book: same scores as one by one, clear errors and no output on bad
input, PSI warning, and flat memory on a 1M-row file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fedscore.cli.main import app
from fedscore.core.errors import TableReadError, TableValidationError
from fedscore.core.tabular import write_table
from fedscore.deployment.localhost.processes import (
    fedscore_command,
    fedscore_environment,
    peak_rss_bytes,
)
from fedscore.scoring import ModelRegistry
from fedscore.scoring.batch import BookScorer
from fedscore.scoring.batch.sources import TableSource


@pytest.fixture(scope="module")
def registered(trained_consortium, tmp_path_factory):
    """A registry holding the trained run in production, and that model's scorer."""
    registry = ModelRegistry(tmp_path_factory.mktemp("batch") / "registry")
    registry.promote(registry.register(trained_consortium.run_dir, trained_consortium.keys).version)
    return registry, registry.load("production").scorer()


@pytest.fixture(scope="module")
def book(market) -> pd.DataFrame:
    """The large bank's book as it holds it: identities, residence, features, outcome."""
    return market.parties["large_bank"].head(2500).reset_index(drop=True)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_book_scores_equal_single_customer_scores(registered, book, tmp_path, suffix):
    _, scorer = registered
    source = tmp_path / f"book{suffix}"
    write_table(book, source)
    output = tmp_path / f"scored{suffix}"
    summary = BookScorer(scorer, chunk_rows=1000).score_file(source, output)
    scored = pq.read_table(output).to_pandas() if suffix == ".parquet" else pd.read_csv(output)
    assert summary.rows == len(scored) == len(book)
    assert list(scored["customer_id"].astype(str)) == list(book["customer_id"].astype(str))
    assert set(scored.columns).isdisjoint({"name", "id_number", "mobile", "card_number"})
    assert (scored["model_version"] == scorer.version).all()
    assert sum(summary.grades.values()) == len(book)
    assert (
        summary.grades
        == scored["grade"].value_counts().reindex(list("ABCD"), fill_value=0).to_dict()
    )
    assert 0 <= summary.psi < 1
    features = [c for c in scorer.records.feature_names]
    for row in (0, 999, 1000, 2499):  # across chunk borders
        single = scorer.score_record(book.loc[row, features].to_dict())
        # float32 matrix products sum in another order for a batch than for one row
        assert scored.loc[row, "score"] == pytest.approx(single.score, abs=1e-4)
        assert scored.loc[row, "grade"] == single.grade
        assert scored.loc[row, "action"] == single.action
        reasons = [r.feature for r in single.reasons]
        assert [scored.loc[row, f"reason_{k}"] for k in range(1, len(reasons) + 1)] == reasons
    if suffix == ".parquet":
        metadata = pq.read_schema(output).metadata
        assert metadata[b"fedscore.model_version"] == scorer.version.encode()


def test_shifted_book_warns_about_psi(registered, book, tmp_path):
    registry, _ = registered
    risky = book.copy()
    risky[["PAY_0", "PAY_2", "PAY_3"]] = 2  # everyone two months late
    write_table(risky, tmp_path / "risky.parquet")
    result = CliRunner().invoke(
        app,
        [
            "score",
            "--model",
            "production",
            "--registry",
            str(registry.root),
            "--input",
            str(tmp_path / "risky.parquet"),
            "--output",
            str(tmp_path / "out.csv"),
            "--summary",
            str(tmp_path / "summary.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "customers scored by default_risk-v1" in result.output
    assert "warning: PSI" in result.output
    assert (tmp_path / "out.csv").is_file() and (tmp_path / "summary.json").is_file()


BAD_KINDS = [
    "missing column",
    "wrong type",
    "unknown category",
    "malformed CSV",
    "not Parquet",
    "not UTF-8",
    "empty file",
    "identifier in a feature",
    "identifier in a feature of a CSV",
    "identifier in a float feature",
    "plain CSV named .csv.gz",
    "dates in a numeric feature",
    "bytes that are not UTF-8 in a category",
]


@pytest.fixture(scope="module")
def bad_books(book, tmp_path_factory) -> dict[str, tuple]:
    """Each kind of bad book: (file, error type, words the message must hold)."""
    tmp_path = tmp_path_factory.mktemp("bad-books")
    cases: dict[str, tuple] = {}
    missing = book.drop(columns=["PAY_AMT3"])
    write_table(missing, tmp_path / "missing.parquet")
    cases["missing column"] = (
        tmp_path / "missing.parquet",
        TableValidationError,
        ["column 'PAY_AMT3'", "missing from the header"],
    )
    wrong = book.astype({"AGE": object})
    wrong.loc[2199, "AGE"] = "thirty"  # in the third chunk of 1000 rows
    write_table(wrong, tmp_path / "wrong_type.csv")
    cases["wrong type"] = (
        tmp_path / "wrong_type.csv",
        TableValidationError,
        ["row 2200 (line 2201)", "column 'AGE'", "expected a finite number"],
    )
    unknown = book.copy()
    unknown.loc[1500, "EDUCATION"] = 9
    write_table(unknown, tmp_path / "unknown.parquet")
    cases["unknown category"] = (
        tmp_path / "unknown.parquet",
        TableValidationError,
        ["row 1501", "column 'EDUCATION'", "unknown category"],
    )
    lines = (tmp_path / "wrong_type.csv").read_text(encoding="utf-8").splitlines()
    lines[1800] = lines[1800] + ",surplus"
    (tmp_path / "ragged.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cases["malformed CSV"] = (
        tmp_path / "ragged.csv",
        TableReadError,
        ["line 1801", "malformed CSV", "fields"],
    )
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    cases["not Parquet"] = (
        tmp_path / "broken.parquet",
        TableReadError,
        ["not a readable Parquet file"],
    )
    (tmp_path / "latin1.csv").write_bytes("LIMIT_BAL,备注\n".encode("gbk"))
    cases["not UTF-8"] = (tmp_path / "latin1.csv", TableReadError, ["not UTF-8"])
    (tmp_path / "empty.csv").write_text("")
    cases["empty file"] = (tmp_path / "empty.csv", TableReadError, ["empty"])
    leaked = book.copy()
    leaked["BILL_AMT2"] = leaked["BILL_AMT2"].astype(np.int64)
    leaked.loc[[1500, 1900], "BILL_AMT2"] = leaked.loc[[1500, 1900], "mobile"].astype(np.int64)
    write_table(leaked, tmp_path / "leaked.parquet")
    cases["identifier in a feature"] = (  # in the second chunk: the row counts from the file
        tmp_path / "leaked.parquet",
        TableReadError,
        ["column 'BILL_AMT2' holds 2 value(s) detected as mobile, the first in row 1501:"],
    )
    write_table(leaked, tmp_path / "leaked.csv")
    cases["identifier in a feature of a CSV"] = (
        tmp_path / "leaked.csv",
        TableReadError,
        [
            "column 'BILL_AMT2' holds 2 value(s) detected as mobile, the first in row 1501 (line "
            "1502)",
            "direct identifiers",
        ],
    )
    rounded = book.copy()  # a float64 holds 18 digits only rounded: 4.2e17 steps by 64
    rounded.loc[10, "BILL_AMT2"] = float(rounded.loc[10, "id_number"])
    write_table(rounded, tmp_path / "rounded.parquet")
    cases["identifier in a float feature"] = (
        tmp_path / "rounded.parquet",
        TableReadError,
        ["column 'BILL_AMT2' holds 1 value(s) detected as resident_id, the first in row 11:"],
    )
    (tmp_path / "plain.csv.gz").write_bytes((tmp_path / "wrong_type.csv").read_bytes())
    cases["plain CSV named .csv.gz"] = (
        tmp_path / "plain.csv.gz",
        TableReadError,
        ["not a readable gzip file", "gzip-compressed CSV"],
    )
    dated = pa.Table.from_pandas(book, preserve_index=False)
    at = dated.schema.get_field_index("AGE")
    dates = pa.array([pd.Timestamp("1980-01-01")] * len(book))
    pq.write_table(dated.set_column(at, "AGE", dates), tmp_path / "dated.parquet")
    cases["dates in a numeric feature"] = (  # pandas read them as nanoseconds since 1970
        tmp_path / "dated.parquet",
        TableValidationError,
        ["row 1, column 'AGE': wrong type: expected a finite number"],
    )
    at = dated.schema.get_field_index("EDUCATION")
    undecodable = pa.array([b"\xff\xfe"] * len(book), pa.binary())
    pq.write_table(dated.set_column(at, "EDUCATION", undecodable), tmp_path / "bytes.parquet")
    cases["bytes that are not UTF-8 in a category"] = (  # was a UnicodeDecodeError
        tmp_path / "bytes.parquet",
        TableValidationError,
        ["row 1, column 'EDUCATION': unknown category"],
    )
    assert set(cases) == set(BAD_KINDS)
    return cases


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_book_gets_a_clear_error_and_leaves_no_output(
    registered, book, bad_books, kind, tmp_path
):
    _, scorer = registered
    source, error, words = bad_books[kind]
    for output in (tmp_path / "scored.parquet", tmp_path / "scored.csv"):
        with pytest.raises(error) as caught:
            BookScorer(scorer, chunk_rows=1000).score_file(source, output)
        message = str(caught.value)
        assert str(source) in message, message
        for word in words:
            assert word in message, (word, message)
        secrets = ("thirty", "surplus", book.loc[10, "mobile"], book.loc[10, "id_number"][:11])
        for secret in secrets:
            assert secret not in message, message
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


def _peak_rss_of_scoring(registry, source, output) -> int:
    """Peak RSS (bytes) of `fedscore score` scoring `source` in its own process.

    Read as the process's own high-water mark (VmHWM) until it exits: getrusage's
    ru_maxrss of a child would include this (large) test process's RSS at fork time.
    """
    command = fedscore_command("score", "--registry", str(registry.root), "--input", str(source))
    process = subprocess.Popen(
        [*command, "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=fedscore_environment(),
    )
    peak = peak_rss_bytes(process)
    _, errors = process.communicate()
    assert process.returncode == 0, errors
    return peak


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads /proc/PID/status")
def test_a_million_rows_score_with_flat_memory(registered, book, tmp_path):
    registry, _ = registered
    columns = {c: book[c].to_numpy() for c in ["customer_id", *registered[1].records.feature_names]}
    small = pa.table(columns)
    rows = np.arange(1_000_000) % len(book)
    pq.write_table(small.take(rows), tmp_path / "big.parquet", row_group_size=131_072)
    # 300,000 rows: five chunks, enough for the allocator to reach its steady working set.
    pq.write_table(small.take(rows[:300_000]), tmp_path / "small.parquet")
    peak_small = _peak_rss_of_scoring(registry, tmp_path / "small.parquet", tmp_path / "s.parquet")
    peak_big = _peak_rss_of_scoring(registry, tmp_path / "big.parquet", tmp_path / "b.parquet")
    assert pq.ParquetFile(tmp_path / "b.parquet").metadata.num_rows == 1_000_000
    # 3.3 times the rows, about the same memory: memory is bounded by the chunk size (read
    # whole, the million rows alone take about 2 GiB more).
    assert peak_big - peak_small < 100 * 2**20, (peak_small, peak_big)


def test_a_book_without_its_header_row_is_refused_before_a_row_is_read(tmp_path, market):
    book = market.parties["large_bank"].head(50).astype(str)
    path = tmp_path / "book.csv"
    path.write_text(
        "\n".join(",".join(row) for row in book.to_numpy().tolist()) + "\n", encoding="utf-8"
    )
    with pytest.raises(TableReadError, match="is the header row missing") as caught:
        TableSource(path, list(book.columns))
    assert not any(value in str(caught.value) for value in book.iloc[0] if len(value) >= 3)
