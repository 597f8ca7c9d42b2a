"""`fedscore serve|score`: the scoring service and batch scoring of a whole book."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from fedscore.cli.output import console, fail
from fedscore.cli.registry_options import DEFAULT_REGISTRY, ConfigFile, ModelVersion, RegistryDir
from fedscore.core.errors import FedscoreError


def serve(
    model: ModelVersion = "production",
    registry: RegistryDir = DEFAULT_REGISTRY,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 50051,
    certificate: Annotated[
        Path | None, typer.Option(help="The server's TLS certificate (PEM).")
    ] = None,
    private_key: Annotated[Path | None, typer.Option(help="Its private key (PEM).")] = None,
    pki: Annotated[
        Path | None,
        typer.Option(
            help="A consortium PKI folder (fedscore pki init): use its server certificate and key."
        ),
    ] = None,
    client_ca: Annotated[
        Path | None, typer.Option(help="Require client certificates signed by this CA (mTLS).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker threads (0: 4 per core).")] = 0,
    config: ConfigFile = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            help="A decision strategy registered for the model (<name>-<version>): Decide "
            "applies it (fedscore strategy register)."
        ),
    ] = None,
) -> None:
    """Serve a registered model over gRPC with TLS until SIGTERM/SIGINT (graceful shutdown)."""
    from fedscore.core.errors import ConfigError
    from fedscore.deployment.pki import PkiLayout
    from fedscore.scoring import ModelRegistry, load_scoring_config
    from fedscore.scoring.grpc_api import ScoringServer, ServeSettings

    try:
        if pki is not None:
            certificate, private_key = PkiLayout(pki).server_cert, PkiLayout(pki).server_key
        if certificate is None or private_key is None:
            raise ConfigError("TLS is required: give --certificate and --private-key, or --pki")
        loaded = ModelRegistry(registry).load(model)
        scorer = loaded.scorer(load_scoring_config(config))
        settings = ServeSettings(host, port, certificate, private_key, client_ca, workers)
        decider = None
        if strategy is not None:
            from fedscore.decisions.store import StrategyStore

            decider = StrategyStore(ModelRegistry(registry)).decider(scorer, strategy)
        server = ScoringServer(loaded, scorer, settings, decider)
    except FedscoreError as error:
        fail(error)
    console.print(
        f"serving {loaded.version} on {host}:{server.port} (TLS, {server.workers} workers, "
        f"pid {os.getpid()}); SIGTERM or Ctrl-C stops",
        markup=False,
    )
    server.serve_until_signal()
    console.print("stopped", markup=False)


def score(
    input_path: Annotated[Path, typer.Option("--input", help="The book: .parquet, .csv, .csv.gz.")],
    output: Annotated[Path, typer.Option(help="The scored file: .parquet, .csv, .csv.gz.")],
    model: ModelVersion = "production",
    registry: RegistryDir = DEFAULT_REGISTRY,
    config: ConfigFile = None,
    keep: Annotated[
        list[str] | None,
        typer.Option(help="Input column copied to the output (repeat); default: the customer key."),
    ] = None,
    keep_identifiers: Annotated[
        bool,
        typer.Option(
            "--keep-identifiers",
            help="Allow --keep to copy direct identifiers (or columns a PII detector flags) "
            "into the output.",
        ),
    ] = False,
    chunk_rows: Annotated[
        int, typer.Option(help="Rows per chunk, at least 1 (bounds memory).")
    ] = 65_536,
    summary: Annotated[
        Path | None, typer.Option(help="Also write the summary as JSON here.")
    ] = None,
    strategy: Annotated[
        Path | None,
        typer.Option(
            help="A decision strategy (TOML): also decide every row (decision, final grade, "
            "limit, price, fired rules) with it."
        ),
    ] = None,
) -> None:
    """Score a whole book in chunks: PD, points, grade, action, reasons; grade mix and PSI.

    A failure (bad input, a file that cannot be written) exits with status 2 and leaves
    neither the output nor the summary.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Table

    from fedscore.scoring import ModelRegistry, load_scoring_config
    from fedscore.scoring.batch import BookScorer

    progress = Progress(
        TextColumn("[bold]scoring[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=console,
        disable=console.is_jupyter,  # no live bar where it cannot redraw
    )
    try:
        loaded = ModelRegistry(registry).load(model)
        scorer = loaded.scorer(load_scoring_config(config))
        extra = None
        if strategy is not None:
            from fedscore.decisions import Decider
            from fedscore.scoring.batch.decided import decision_columns

            extra = decision_columns(Decider.load(scorer, strategy))
        books = BookScorer(scorer, keep or None, chunk_rows, keep_identifiers, extra)
        with progress:
            task = progress.add_task("rows", total=None)

            def advance(done: int, total: int | None) -> None:
                progress.update(task, completed=done, total=total)

            result = books.score_file(input_path, output, advance, summary)
    except FedscoreError as error:
        fail(error)
    table = Table(title=f"{result.rows:,} customers scored by {result.model_version}")
    for column in ("grade", "customers", "share", "action"):
        table.add_column(column, justify="left" if column in ("grade", "action") else "right")
    for band in scorer.grades.bands:
        count = result.grades[band.name]
        table.add_row(band.name, f"{count:,}", f"{count / result.rows:.1%}", band.action)
    console.print(table)
    console.print(
        f"PSI against the development population: {result.psi:.4f}  "
        f"({result.rows_per_second:,.0f} rows/s, {result.seconds:.1f} s) → {result.output}",
        markup=False,
        highlight=False,
    )
    if result.psi_warning:
        console.print(
            f"warning: PSI {result.psi:.3f} > {result.warn_above}: this book's scores are "
            "distributed unlike the development population's; re-validate the model before "
            "acting on its grades",
            style="bold yellow",
            markup=False,
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    """Add `fedscore serve` and `fedscore score` to the `fedscore` command line.

    Args:
        app: the `fedscore` command line.
    """
    app.command("serve")(serve)
    app.command("score")(score)
