"""`monitor_books`: grade a book at two dates, apply the rules, report migration and stability.

The output is one folder, written whole or not at all (built next to it, then renamed
into place; a failure leaves nothing):

    customers.parquet  one row per customer: key, status, grades, scores, PDs, action, rules
    movers.parquet     the customers who fell `mover_steps` grades or more
    summary.json       books, migration matrix, grades and actions, PSI, feature stability
    report.html        the same with the migration heatmap and PSI per feature (PNG inline)
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from fedscore.core.documents import write_json
from fedscore.decisions.fields import RuleFields
from fedscore.monitoring.grading import GradedBook, grade_book
from fedscore.monitoring.migration import Migration, migrate
from fedscore.monitoring.report import figures, render_html, summary
from fedscore.monitoring.rules import load_monitoring_rules
from fedscore.monitoring.stability import feature_stability, score_psi
from fedscore.scoring.batch.engine import BatchEngine
from fedscore.scoring.errors import OutputWriteError
from fedscore.scoring.scorer import Scorer


@dataclass(frozen=True)
class MonitorResult:
    """What a monitoring run found.

    Attributes:
        output: the output folder.
        summary: the JSON summary (as written).
        migration: the joined books (matrix, movers, per-customer table).
    """

    output: Path
    summary: dict[str, Any]
    migration: Migration


def _refuse_output(output: Path, books: list[Path]) -> None:
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise OutputWriteError(f"{output}: exists; give the monitoring output a new folder")
    for book in books:
        if book.resolve().is_relative_to(output.resolve()):
            raise OutputWriteError(f"{output}: would hold the book {book}")


def _book_info(book: GradedBook) -> dict[str, Any]:
    return {"file": book.source, "rows": len(book)}


def monitor_books(
    scorer: Scorer,
    first: str | Path,
    second: str | Path,
    output: str | Path,
    rules: str | Path | None = None,
    key: str | None = None,
    chunk_rows: int = 65_536,
) -> MonitorResult:
    """Monitor a book between two dates.

    Args:
        scorer: the registered model's scorer.
        first: the book at T1 (.parquet, .csv, .csv.gz).
        second: the same book at T2.
        output: the folder to write (new, or empty).
        rules: the monitoring file (TOML); None for no rules and the default actions.
        key: the customer key column; None for the task's customer key.
        chunk_rows: rows per chunk when reading.

    Raises:
        ConfigError: a bad monitoring file (file, rule, column).
        TableReadError, TableValidationError: a bad book (file, row, column; never a value).
        OutputWriteError: the output cannot be written (nothing left).
    """
    first, second, output = Path(first), Path(second), Path(output)
    _refuse_output(output, [first, second])
    fields = RuleFields(scorer.schema, tuple(scorer.grades.names))
    compiled = load_monitoring_rules(rules, fields)
    engine = BatchEngine(scorer)
    key = key or scorer.model.schema.customer_key.name
    book1 = grade_book(first, engine, compiled, key, chunk_rows)
    book2 = grade_book(second, engine, compiled, key, chunk_rows)
    names = tuple(rule.name for rule in compiled.rules.rules)
    settings = compiled.report
    migration = migrate(book1, book2, fields.grades, compiled.actions, names, settings.mover_steps)
    stability = feature_stability(book1.bins, book2.bins, settings.psi_warn_above)
    books = {
        "model_version": scorer.version,
        "rules": compiled.source,
        "key": key,
        "mover_steps": settings.mover_steps,
        "t1": _book_info(book1),
        "t2": _book_info(book2),
    }
    report = summary(
        migration,
        stability,
        score_psi(book1.score, book2.score),
        compiled.actions,
        books,
        settings.psi_warn_above,
    )
    page = render_html(report, figures(migration, stability, settings.psi_warn_above))
    _write(output, migration, report, page)
    return MonitorResult(output, report, migration)


def _write(output: Path, migration: Migration, report: dict[str, Any], page: str) -> None:
    """Write the folder beside `output`, then rename it into place (all or nothing)."""
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        partial.mkdir(parents=True)
        pq.write_table(migration.customers, partial / "customers.parquet", compression="zstd")
        pq.write_table(migration.movers, partial / "movers.parquet", compression="zstd")
        write_json(partial / "summary.json", report)
        (partial / "report.html").write_text(page, encoding="utf-8")
        if output.is_dir():
            output.rmdir()  # empty (checked before reading the books)
        partial.replace(output)
    except OSError as exc:
        raise OutputWriteError(
            f"{output}: cannot be written ({exc.strerror or exc}); nothing was kept"
        ) from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
