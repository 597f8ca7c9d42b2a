"""`fedscore models|serve|score`: the model registry, the scoring service, batch scoring."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fedscore.cli.output import console, fail
from fedscore.core.errors import FedscoreError

models_app = typer.Typer(help="The model registry: register, list, show, promote, roll back.")

#: The registry folder when --registry is not given: $FEDSCORE_REGISTRY, else this.
DEFAULT_REGISTRY = Path("~/.fedscore/registry").expanduser()
RegistryDir = Annotated[
    Path,
    typer.Option(
        "--registry",
        envvar="FEDSCORE_REGISTRY",
        help="The model registry folder (scoring needs only its public key).",
    ),
]
ModelVersion = Annotated[
    str,
    typer.Option(
        "--model", help="A registered version (default_risk-v3), or production / <task>@production."
    ),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="Scoring configuration TOML (scorecard, grades, reasons, PSI)."),
]


def _fmt(value: object, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return "∞" if value == "inf" else value
    return f"{float(value):.{digits}f}"  # type: ignore[arg-type]


@models_app.command("init-registry")
def models_init_registry(registry: RegistryDir = DEFAULT_REGISTRY) -> None:
    """Create a registry and its signing key (once: keys are never replaced; back it up)."""
    from fedscore.scoring import ModelRegistry

    try:
        public = ModelRegistry(registry).init()
    except FedscoreError as error:
        fail(error)
    console.print(
        f"registry {registry}: signing key keys/registry_ed25519.pem (back it up; only "
        "register, promote and rollback use it), public key keys/registry_ed25519.pub "
        f"(all that scoring needs): {public}",
        markup=False,
    )


@models_app.command("register")
def models_register(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    keys: Annotated[
        Path,
        typer.Option(
            "--keys",
            help="The consortium's key list (TOML, [ledger_keys] party = hex): the card's "
            "data versions, ε and δ come from the parties' ledger entries it verifies.",
        ),
    ],
    registry: RegistryDir = DEFAULT_REGISTRY,
    development: Annotated[
        Path | None,
        typer.Option(
            help="Development data (features and label, no identifiers): reason-code "
            "baseline and PSI reference. Default: the run's consortium test set."
        ),
    ] = None,
    config: ConfigFile = None,
    promote: Annotated[bool, typer.Option(help="Also put it into production.")] = False,
) -> None:
    """Register a finished run as the next version of its task (copied and signed)."""
    from fedscore.scoring import ModelRegistry, load_scoring_config

    try:
        models = ModelRegistry(registry)
        card = models.register(run_dir, keys, development, load_scoring_config(config))
        if promote:
            models.promote(card.version)
    except FedscoreError as error:
        fail(error)
    console.print(f"registered {card.version} (run {card.run_id})", markup=False)
    if promote:
        console.print(f"{card.version} is in production", markup=False)


@models_app.command("list")
def models_list(registry: RegistryDir = DEFAULT_REGISTRY) -> None:
    """Every registered version's signed card; * marks production; exit 1 if one does not verify."""
    from fedscore.scoring import ModelRegistry

    try:
        models = ModelRegistry(registry)
        checked = models.checked_cards()
        cards = [entry.card for entry in checked if entry.card is not None]
        production = {card.task: models.production(card.task) for card in cards}
    except FedscoreError as error:
        fail(error)
    table = Table(title=f"models in {registry}")
    for column in (
        "version",
        "task",
        "model",
        "rounds",
        "created",
        "AUC",
        "KS",
        "max ε",
        "parties",
    ):
        table.add_column(
            column, justify="left" if column in ("version", "task", "parties") else "right"
        )
    for card in cards:
        epsilons = [p.epsilon for p in card.parties if isinstance(p.epsilon, int | float)]
        mark = " *" if production[card.task] == card.version else ""
        table.add_row(
            card.version + mark,
            f"{card.task} {card.task_version}",
            card.model,
            str(card.rounds),
            card.created_at,
            _fmt(card.consortium_test.get("auc")),
            _fmt(card.consortium_test.get("ks")),
            _fmt(max(epsilons) if epsilons else "inf"),
            ", ".join(p.name for p in card.parties),
        )
    if cards:
        Console(width=console.width).print(table)
    elif not checked:
        console.print(f"no models registered in {registry}", markup=False)
    unverified = [entry for entry in checked if entry.card is None]
    for entry in unverified:
        console.print(
            f"{entry.version}: NOT VERIFIED, not shown: "
            + entry.problem.removeprefix(f"{entry.version}: "),
            style="bold red",
            markup=False,
        )
    if unverified:
        raise typer.Exit(code=1)


@models_app.command("show")
def models_show(
    version: Annotated[str, typer.Argument(help="A version, or production.")],
    registry: RegistryDir = DEFAULT_REGISTRY,
) -> None:
    """A version's model card, its signature check and its development profile (JSON)."""
    from fedscore.scoring import ModelRegistry

    try:
        models = ModelRegistry(registry)
        model = models.load(version)
        entry = models.entry(version)
    except FedscoreError as error:
        fail(error)
    development = model.development.as_dict()
    development.pop("baseline")
    document = {
        "card": model.card.as_dict(),
        "production": models.production(model.card.task) == model.version,
        "signature": {
            "verified": True,
            "algorithm": "Ed25519 over the SHA-256 manifest of every bundle file",
            "manifest_sha256": entry.manifest_sha256,
            "signature": entry.signature,
            "registry_public_key": models.public_hex,
        },
        "development": development,
    }
    print(json.dumps(document, indent=2, ensure_ascii=False))


@models_app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="The version to put into production.")],
    registry: RegistryDir = DEFAULT_REGISTRY,
) -> None:
    """Put a version into production for its task (its signature is verified first)."""
    from fedscore.scoring import ModelRegistry

    try:
        promoted = ModelRegistry(registry).promote(version)
    except FedscoreError as error:
        fail(error)
    console.print(f"{promoted} is in production", markup=False)


@models_app.command("rollback")
def models_rollback(
    registry: RegistryDir = DEFAULT_REGISTRY,
    task: Annotated[
        str | None, typer.Option(help="The task (if the registry holds several).")
    ] = None,
) -> None:
    """Put the previous production version of a task back into production."""
    from fedscore.scoring import ModelRegistry

    try:
        restored = ModelRegistry(registry).rollback(task)
    except FedscoreError as error:
        fail(error)
    console.print(f"rolled back: {restored} is in production", markup=False)


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
        server = ScoringServer(loaded, scorer, settings)
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
) -> None:
    """Score a whole book in chunks: PD, points, grade, action, reasons; grade mix and PSI.

    A failure (bad input, a file that cannot be written) exits with status 2 and leaves
    neither the output nor the summary.
    """
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
        books = BookScorer(scorer, keep or None, chunk_rows, keep_identifiers)
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
    """Add the scoring commands to the `fedscore` command line."""
    app.add_typer(models_app, name="models")
    app.command("serve")(serve)
    app.command("score")(score)
