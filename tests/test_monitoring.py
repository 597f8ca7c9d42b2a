"""Monitoring a book between two dates: migration matrix and movers by hand, PSI by hand,
strong/weak rules applied, and bad input refused with file/row/column and no output left."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from fedscore.cli.main import app
from fedscore.core.errors import ConfigError, TableReadError, TableValidationError
from fedscore.core.tabular import write_table
from fedscore.decisions.fields import RuleFields
from fedscore.monitoring import monitor_books
from fedscore.monitoring.grading import FeatureBins, GradedBook
from fedscore.monitoring.migration import migrate
from fedscore.monitoring.rules import load_monitoring_rules
from fedscore.monitoring.stability import feature_stability, score_psi
from fedscore.scoring import ModelRegistry

GRADES = ("A", "B", "C", "D")
ACTIONS = ("line increase", "normal management", "watch list", "high-frequency monitoring")
RULES = """
[[strong_rules]]
name = "behind"
when = "PAY_0 >= 2"
grade = "D"
reason = "M01"

[[weak_rules]]
name = "over_limit"
when = "BILL_AMT1 > LIMIT_BAL"
cap_grade = "C"
reason = "M11"
"""


def _book(keys: list[str], grades: list[int], fired: list[bool] | None = None) -> GradedBook:
    n = len(keys)
    flags = np.array(fired if fired is not None else [False] * n)[:, None]
    return GradedBook(
        "book.parquet",
        "customer_id",
        pa.array(keys),
        np.full(n, 0.1),
        np.linspace(600, 500, n),
        np.array(grades, dtype=np.int8),
        np.array(grades, dtype=np.int8),
        flags,
        FeatureBins(("x",)),
    )


def test_migration_matrix_and_movers_by_hand():
    first = _book(["a", "b", "c", "d", "e"], [0, 0, 1, 2, 3])
    second = _book(["b", "a", "c", "f", "d"], [2, 0, 1, 0, 3], [True, False, False, False, True])
    migration = migrate(first, second, GRADES, ACTIONS, ("behind",), mover_steps=2)
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[0, 0] = expected[0, 2] = expected[1, 1] = expected[2, 3] = 1  # a, b, c, d
    assert (migration.matrix == expected).all()
    assert migration.closed.tolist() == [0, 0, 0, 1]  # e left the book (D)
    assert migration.new.tolist() == [1, 0, 0, 0]  # f is new (A)
    movers = migration.movers.to_pydict()
    assert movers["customer_id"] == ["b"]  # A→C; d fell one grade only
    assert movers["grade_t1"] == ["A"] and movers["grade_t2"] == ["C"]
    assert movers["fired_rules_t2"] == ["behind"]
    customers = migration.customers.to_pydict()
    assert customers["customer_id"] == ["a", "b", "c", "d", "e", "f"]
    assert customers["status"] == ["both"] * 4 + ["closed", "new"]
    assert customers["action_t2"][:2] == ["line increase", "watch list"]


def test_psi_and_characteristic_shift_by_hand():
    first, second = FeatureBins(("x",)), FeatureBins(("x",))
    first.counts, first.points = [np.array([50, 50])], [np.array([0.0, 500.0])]
    second.counts, second.points = [np.array([25, 75])], [np.array([0.0, 750.0])]
    (x,) = feature_stability(first, second, warn_above=0.1)
    psi = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert x.psi == pytest.approx(psi, rel=1e-12)
    # mean points per bin over both books: 0 and 10; the mix moved 25 % into bin 2
    assert x.points_shift == pytest.approx(0.25 * 10.0)
    assert x.unstable
    scores = np.arange(100, dtype=float)
    assert score_psi(scores, scores) == pytest.approx(0.0, abs=1e-12)


@pytest.fixture(scope="module")
def scorer(trained_consortium, tmp_path_factory):
    registry = ModelRegistry(tmp_path_factory.mktemp("monitor") / "registry")
    registry.promote(registry.register(trained_consortium.run_dir, trained_consortium.keys).version)
    return registry, registry.load("production").scorer()


@pytest.fixture(scope="module")
def books(market, scorer, tmp_path_factory):
    """T1: 600 customers of the large bank (key and features); T2: every 4th fell behind,
    every 3rd's bill doubled."""
    features = list(scorer[1].records.feature_names)
    t1 = market.parties["large_bank"].head(600)[["customer_id", *features]]
    t1 = t1.reset_index(drop=True)
    t2 = t1.copy()
    t2.loc[t2.index % 4 == 0, "PAY_0"] = 2
    t2.loc[t2.index % 3 == 0, "BILL_AMT1"] = t2["LIMIT_BAL"] * 2
    root = tmp_path_factory.mktemp("books")
    write_table(t1, root / "t1.parquet")
    write_table(t2, root / "t2.parquet")
    (root / "rules.toml").write_text(RULES, encoding="utf-8")
    return root, t1, t2


def test_rules_grade_the_book_and_the_report_is_written(scorer, books, tmp_path):
    _, model = scorer
    root, _, t2 = books
    result = monitor_books(
        model, root / "t1.parquet", root / "t2.parquet", tmp_path / "out", root / "rules.toml"
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "customers.parquet",
        "movers.parquet",
        "report.html",
        "summary.json",
    ]
    customers = pd.read_parquet(tmp_path / "out" / "customers.parquet")
    behind = (t2["PAY_0"] >= 2).to_numpy()
    over = (t2["BILL_AMT1"] > t2["LIMIT_BAL"]).to_numpy()
    assert (customers["grade_t2"][behind] == "D").all()
    assert customers["grade_t2"][over].isin(["C", "D"]).all()
    assert customers["fired_rules_t2"][behind].str.contains("behind").all()
    # the monitoring grade is never better than the grade by score
    order = {g: i for i, g in enumerate(GRADES)}
    grade, by_score = (customers[c].astype(str).map(order) for c in ("grade_t2", "score_grade_t2"))
    assert (grade >= by_score).all()
    summary = result.summary
    assert np.sum(summary["migration_matrix"]) == 600
    assert summary["movers"] == len(pd.read_parquet(tmp_path / "out" / "movers.parquet")) > 0
    psi = {f["feature"]: f["psi"] for f in summary["features"]}
    assert psi["PAY_0"] > 0.1 and psi["AGE"] == pytest.approx(0.0, abs=1e-12)
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert not any(key in page for key in customers["customer_id"])  # no key on the page


def _variant(books, tmp_path, name, change) -> str:
    _, t1, _ = books
    frame = change(t1.copy())
    path = tmp_path / name
    write_table(frame, path)
    return str(path)


BAD = {
    "missing column": (
        "t2.parquet",
        lambda f: f.drop(columns=["PAY_AMT3"]),
        TableValidationError,
        ["column 'PAY_AMT3'", "missing"],
    ),
    "wrong type": (
        "t2.csv",
        lambda f: f.astype({"AGE": object}).assign(
            AGE=lambda g: g["AGE"].where(g.index != 41, "x")
        ),
        TableValidationError,
        ["row 42 (line 43)", "column 'AGE'", "expected a finite number"],
    ),
    "repeated key": (
        "t2.parquet",
        lambda f: f.assign(customer_id=f["customer_id"].where(f.index != 7, f["customer_id"][3])),
        TableReadError,
        ["column 'customer_id'", "row 8", "repeats"],
    ),
    "key of another type": (
        "t2.parquet",
        lambda f: f.assign(customer_id=np.arange(len(f))),
        TableReadError,
        ["customer key column 'customer_id'", "does not match", "t1.parquet"],
    ),
    "identifiers in the key": (
        "t2.parquet",
        lambda f: f.assign(customer_id=[f"1391234{i:04d}" for i in range(len(f))]),
        TableReadError,
        ["column 'customer_id'", "mobile", "pseudonymous key"],
    ),
    "an identifier in one key of a CSV": (
        "t2.csv",
        lambda f: f.assign(customer_id=f["customer_id"].where(f.index != 30, "13912345678")),
        TableReadError,
        ["column 'customer_id' holds 1 value(s) detected as mobile, the first in row 31 (line 32)"],
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_books_are_refused_and_nothing_is_written(scorer, books, tmp_path, case):
    _, model = scorer
    root, _, _ = books
    name, change, error, words = BAD[case]
    second = _variant(books, tmp_path, name, change)
    with pytest.raises(error) as caught:
        monitor_books(model, root / "t1.parquet", second, tmp_path / "out")
    message = str(caught.value)
    assert second in message or case == "key of another type", message
    for word in words:
        assert word in message, (word, message)
    assert "13912340" not in message and "thirty" not in message
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == [name]  # nothing half-written


def test_an_identifier_column_is_refused_as_key(scorer, market, tmp_path):
    _, model = scorer
    book = market.parties["large_bank"].head(50)
    write_table(book, tmp_path / "t.parquet")
    with pytest.raises(TableReadError, match="'mobile' is a direct identifier"):
        monitor_books(
            model, tmp_path / "t.parquet", tmp_path / "t.parquet", tmp_path / "o", key="mobile"
        )


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ('when = "INCOME > 3"', ["[[strong_rules]] #1 'r'", "unknown"]),
        ("when = \"PAY_0 > 'x'\"", ["[[strong_rules]] #1 'r'", "column"]),
        ('when = "AGE < 20 and AGE > 70"', ["can never fire"]),
        ("when = \"__import__('os')\"", ["[[strong_rules]] #1 'r'"]),
    ],
)
def test_bad_rules_are_refused_at_load(scorer, tmp_path, rule, words):
    _, model = scorer
    path = tmp_path / "rules.toml"
    path.write_text(f'[[strong_rules]]\nname = "r"\n{rule}\ngrade = "D"\nreason = "M1"\n')
    with pytest.raises(ConfigError) as caught:
        load_monitoring_rules(path, RuleFields(model.schema, tuple(model.grades.names)))
    assert str(path) in str(caught.value)
    for word in words:
        assert word in str(caught.value), str(caught.value)


def test_fedscore_monitor_command(scorer, books, tmp_path):
    registry, _ = scorer
    root, _, _ = books
    args = ["monitor", str(root / "t1.parquet"), str(root / "t2.parquet")]
    args += ["--output", str(tmp_path / "out"), "--registry", str(registry.root)]
    result = CliRunner().invoke(app, [*args, "--rules", str(root / "rules.toml")])
    assert result.exit_code == 0, result.output
    assert "movers" in result.output and "high-frequency monitoring" in result.output
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "exists" in again.output
