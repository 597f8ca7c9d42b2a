"""`fedscore monitor`: monitor an existing book between two dates (grades, rules, stability)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fedscore.cli.output import console, fail
from fedscore.cli.registry_options import DEFAULT_REGISTRY, ConfigFile, ModelVersion, RegistryDir
from fedscore.core.errors import FedscoreError


def monitor(
    book_t1: Annotated[Path, typer.Argument(help="The book at T1: .parquet, .csv, .csv.gz.")],
    book_t2: Annotated[Path, typer.Argument(help="The same book at T2.")],
    output: Annotated[
        Path, typer.Option(help="The folder to write (new or empty): Parquet, JSON, HTML.")
    ],
    rules: Annotated[
        Path | None,
        typer.Option(help="The monitoring file (TOML): strong/weak rules, actions, report."),
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="The customer key column; default: the task's.")
    ] = None,
    model: ModelVersion = "production",
    registry: RegistryDir = DEFAULT_REGISTRY,
    config: ConfigFile = None,
    chunk_rows: Annotated[int, typer.Option(help="Rows per chunk when reading.")] = 65_536,
) -> None:
    """Grade a book at two dates, apply the monitoring rules, report migration and stability.

    Writes customers.parquet, movers.parquet (customers who fell two grades or more),
    summary.json and report.html into OUTPUT. A failure exits with status 2 and leaves
    nothing.
    """
    from fedscore.core.errors import ConfigError
    from fedscore.monitoring import monitor_books
    from fedscore.scoring import ModelRegistry, load_scoring_config

    try:
        if chunk_rows < 1:
            raise ConfigError("rows per chunk (--chunk-rows) must be at least 1")
        scorer = ModelRegistry(registry).load(model).scorer(load_scoring_config(config))
        result = monitor_books(scorer, book_t1, book_t2, output, rules, key, chunk_rows)
    except FedscoreError as error:
        fail(error)
    report = result.summary
    console.print(
        f"{report['t1']['rows']:,} customers at T1, {report['t2']['rows']:,} at T2; "
        f"{report['movers']:,} movers; score PSI {report['score_psi']:.4f} → {result.output}",
        markup=False,
        highlight=False,
    )
    for action in report["actions"]:
        console.print(
            f"  {action['grade']}: {action['customers']:,} customers: {action['action']}",
            markup=False,
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    """Add `fedscore monitor` to the `fedscore` command line.

    Args:
        app: the `fedscore` command line.
    """
    app.command("monitor")(monitor)
