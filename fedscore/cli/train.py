"""`fedscore train`: federated training in Flower's simulation engine, one node per party."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fedscore.cli import run_options as option
from fedscore.cli.option_groups import options_of
from fedscore.cli.output import fail
from fedscore.cli.run_options import TrainingOptions, exit_unless_done
from fedscore.core.errors import FedscoreError

_PARTY_HELP = (
    "NAME=FILE: an institution and its table (CSV/Parquet). Repeat per party; its keys "
    "and node config are created under --workdir."
)
_CONSENT_HELP = (
    "NAME=FILE: the consent records of a --party institution (customer key, purpose, "
    "granted_at, expires_at, withdrawn_at); needed unless the task schema declares a "
    "consent column."
)


@options_of("training", TrainingOptions)
def train(
    party: Annotated[list[str], typer.Option(help=_PARTY_HELP)] = [],  # noqa: B006
    consent: Annotated[list[str], typer.Option(help=_CONSENT_HELP)] = [],  # noqa: B006
    node: Annotated[
        list[Path],
        typer.Option(
            help="An institution's node config TOML (instead of --party). Repeat per party."
        ),
    ] = [],  # noqa: B006
    task: Annotated[Path | None, typer.Option(help="Task schema TOML.")] = None,
    test: Annotated[
        Path | None, typer.Option(help="Consortium test table the server evaluates on.")
    ] = None,
    *,
    training: TrainingOptions,
    max_epsilon: Annotated[
        float, typer.Option(help="Budget per data version of parties given with --party.")
    ] = 3.0,
    workdir: Annotated[
        Path,
        typer.Option(
            help="Where --party nodes keep their config and privacy state, and runs are written."
        ),
    ] = Path("fedscore-work"),
    config: Annotated[
        Path | None, typer.Option(help="Run config TOML ([run] table); options override it.")
    ] = None,
    secure_aggregation: option.SecureAggregation = False,
    owner: Annotated[
        str | None,
        typer.Option(help="Sign the run as this model owner (nodes listing owners need it)."),
    ] = None,
    owner_key: Annotated[
        Path | None, typer.Option(help="The model owner's signing key (with --owner).")
    ] = None,
    verbose: option.Verbose = False,
) -> None:
    """Train a federated model in Flower's simulation engine, one node per party.

    Exits with status 1 unless the run did what was asked (see its summary's verdict).
    """
    from fedscore.clients.federation import FederationManifest
    from fedscore.clients.party_setup import write_party_node
    from fedscore.core.run_request import OwnerIdentity
    from fedscore.datasets import default_task_path
    from fedscore.server.settings import ServerSettings
    from fedscore.simulation import run_simulated_training

    try:
        task_path = (task or default_task_path()).resolve()
        run = training.run_config(config, secure_aggregation)
        node_configs = [p.resolve() for p in node]
        consents = _named_files(consent, "--consent")
        for name, file in _named_files(party, "--party").items():
            node_configs.append(
                write_party_node(
                    workdir.resolve() / "institutions" / name,
                    name,
                    file,
                    task_path,
                    max_epsilon,
                    allow_non_private=not training.private,
                    consent=consents.pop(name, None),
                )
            )
        if consents:
            raise FedscoreError(f"--consent names no --party institution: {sorted(consents)}")
        if len(node_configs) < 1:
            raise typer.BadParameter("name at least one party (--party NAME=FILE or --node)")
        manifest_path = (workdir / "federation.toml").resolve()
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        FederationManifest(tuple(node_configs)).save(manifest_path)
        manifest = FederationManifest.load(manifest_path)
        settings = ServerSettings.new_run(
            run.replace(min_parties=min(run.min_parties, len(node_configs))),
            task_path,
            workdir / "runs",
            len(node_configs),
            test.resolve() if test else None,
        )
        if owner or owner_key:
            if not (owner and owner_key):
                raise FedscoreError("sign with both --owner NAME and --owner-key KEY")
            settings = settings.signed_by(OwnerIdentity(owner, owner_key))
        run_dir = run_simulated_training(settings, manifest, verbose=verbose)
    except FedscoreError as error:
        fail(error)
    exit_unless_done(run_dir)


def _named_files(entries: list[str], option: str) -> dict[str, Path]:
    """NAME=FILE options as name → resolved path."""
    named: dict[str, Path] = {}
    for entry in entries:
        name, sep, file = entry.partition("=")
        if not sep or not name or not file:
            raise FedscoreError(f"{option} expects NAME=FILE, got '{entry}'")
        if name in named:
            raise FedscoreError(f"{option} names '{name}' twice")
        named[name] = Path(file).resolve()
    return named


def register(app: typer.Typer) -> None:
    """Add `fedscore train` to the `fedscore` command line.

    Args:
        app: the `fedscore` command line.
    """
    app.command("train")(train)
