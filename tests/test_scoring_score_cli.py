"""`fedscore score` failure paths, as a user meets them: exit status 2, an error naming the
file, column or option and the rule, no traceback, and neither output nor summary left."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from test_cli_imports import loaded_after

from fedscore.core.tabular import write_table
from fedscore.scoring import ModelRegistry
from fedscore.scoring.batch import BookScorer

BAD_CONFIG = '[scorecard]\npdp = 20\n\n[[grades]]\nname = "A"\nmin_score = 550\n'


@dataclass(frozen=True)
class Case:
    """One `fedscore score` run.

    Attributes:
        options: the options besides --registry, --input and --output ({case} and
            {config} stand for the case's folder and the bad scoring config).
        words: what its error must say.
        book: the input's file name in the shared folder.
        prepare: makes what the case needs in its folder before the run.
    """

    options: tuple[str, ...]
    words: tuple[str, ...]
    book: str = "book.csv"
    prepare: Callable[[Path], None] = field(default=lambda folder: None)


CASES = {
    "plain CSV named .csv.gz": Case(
        (), ("plain.csv.gz", "not a readable gzip file"), "plain.csv.gz"
    ),
    "summary is a folder": Case(
        ("--summary", "{case}/summary"),
        ("summary", "is a folder"),
        prepare=lambda folder: (folder / "summary").mkdir(),
    ),
    "summary cannot be written after scoring": Case(
        ("--summary", "{case}/a-file/summary.json"),
        ("a-file/summary.json: the summary cannot be written",),
        prepare=lambda folder: (folder / "a-file").write_text("not a folder"),
    ),
    "zero rows per chunk": Case(("--chunk-rows", "0"), ("--chunk-rows", "at least 1")),
    "keep a direct identifier": Case(
        ("--keep", "customer_id", "--keep", "mobile"),
        ("direct identifiers of the task: ['mobile']", "--keep-identifiers"),
    ),
    "keep a column a detector flags": Case(
        ("--keep", "contact"),
        (
            "column 'contact' holds 300 value(s) detected as mobile, the first in row 1 (line 2)",
            "--keep-identifiers",
        ),
        "contact.csv",
    ),
    "bad scoring config": Case(
        ("--config", "{config}"),
        ("bad.toml", "pdp", "did you mean 'pdo'", "action"),
    ),
}


@pytest.fixture(scope="module")
def registry(trained_consortium, tmp_path_factory) -> ModelRegistry:
    """A registry holding the trained run in production."""
    registry = ModelRegistry(tmp_path_factory.mktemp("score-cli") / "registry")
    registry.promote(registry.register(trained_consortium.run_dir, trained_consortium.keys).version)
    return registry


@pytest.fixture(scope="module")
def book(market) -> pd.DataFrame:
    """300 customers of the large bank as it holds them (identities included)."""
    return market.parties["large_bank"].head(300)


@pytest.fixture(scope="module")
def runs(registry, book, fedscore_cli, tmp_path_factory):
    """Every case run as its own `fedscore score` process, four at a time: (process, the
    case's folder)."""
    root = tmp_path_factory.mktemp("score-cli-cases")
    write_table(book, root / "book.csv")
    shutil.copy(root / "book.csv", root / "plain.csv.gz")
    write_table(book.assign(contact=book["mobile"]), root / "contact.csv")
    (root / "bad.toml").write_text(BAD_CONFIG, encoding="utf-8")

    def run(name: str, case: Case) -> tuple[subprocess.CompletedProcess[str], Path]:
        folder = root / "cases" / name.replace(" ", "-")
        folder.mkdir(parents=True)
        case.prepare(folder)
        options = [o.format(case=folder, config=root / "bad.toml") for o in case.options]
        args = ["score", "--registry", str(registry.root), "--input", str(root / case.book)]
        args += ["--output", str(folder / "scored.parquet"), *options]
        return fedscore_cli(*args, cwd=root, timeout=120), folder

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(run, name, case) for name, case in CASES.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", CASES)
def test_a_failed_score_exits_2_with_a_clear_error_and_leaves_nothing(runs, book, name):
    process, folder = runs[name]
    assert process.returncode == 2, process.stderr[-2000:]
    assert "Traceback" not in process.stderr and "__init__()" not in process.stderr
    error = process.stderr[process.stderr.index("error: ") :]
    for word in CASES[name].words:
        assert word in error, (word, error)
    for secret in (book["mobile"].iloc[0], book["id_number"].iloc[0], "customer_id,name"):
        assert secret not in process.stderr
    # Nothing written: no output, no summary, no partial file; only what the case made.
    left = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    assert left in ([], ["summary"], ["a-file"]), left


def test_identifiers_are_kept_when_asked_for_explicitly(registry, book, tmp_path):
    write_table(book.assign(contact=book["mobile"]), tmp_path / "book.parquet")
    books = BookScorer(
        registry.load("production").scorer(), ["customer_id", "mobile", "contact"], 100, True
    )
    books.score_file(tmp_path / "book.parquet", tmp_path / "scored.parquet")
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert list(scored["mobile"]) == list(scored["contact"]) == list(book["mobile"])


def test_scoring_a_book_with_an_lr_imports_no_training_library(registry, book, tmp_path):
    """An LR scores with NumPy: `fedscore score` loads neither torch nor Opacus,
    scikit-learn, matplotlib or Flower (it starts in well under a second)."""
    write_table(book, tmp_path / "book.csv")
    args = ["score", "--registry", str(registry.root), "--input", str(tmp_path / "book.csv")]
    args += ["--output", str(tmp_path / "scored.parquet")]
    heavy = ("torch", "opacus", "sklearn", "matplotlib", "flwr")
    assert loaded_after(*args, heavy=heavy) == []
    assert len(pd.read_parquet(tmp_path / "scored.parquet")) == len(book)
