"""`fedscore train`: federated training in Flower's simulation engine, one node per party."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fedscore.cli import run_options as option
from fedscore.cli.named_files import named_files
from fedscore.cli.option_groups import options_of
from fedscore.cli.output import fail
from fedscore.cli.run_options import TrainingOptions, exit_unless_done
from fedscore.core.errors import FedscoreError

if TYPE_CHECKING:
    from fedscore.clients.federation import FederationManifest

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
    consortium: Annotated[
        Path | None,
        typer.Option(
            help="A consortium folder 'fedscore init' made: its parties, task and model "
            "owner (instead of --party/--node/--task/--owner); runs go to its runs/."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="Run config TOML: a \\[run] table of RunConfig settings (batch_size or "
            "batch-size: either spelling); the options override it."
        ),
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
    from fedscore.clients.consortium_setup import ConsortiumFile
    from fedscore.clients.federation import FederationManifest
    from fedscore.core.run_request import OwnerIdentity
    from fedscore.datasets import default_task_path
    from fedscore.server.settings import ServerSettings
    from fedscore.simulation import run_simulated_training

    try:
        run = training.run_config(config, secure_aggregation)
        signer: OwnerIdentity | None = None
        if consortium is not None:
            if party or consent or node or task or owner or owner_key:
                raise FedscoreError(
                    "--consortium names the parties, the task and the model owner: give none "
                    "of --party, --consent, --node, --task, --owner, --owner-key with it"
                )
            setup = ConsortiumFile.load(consortium.resolve())
            task_path, signer = setup.task, setup.owner
            manifest, runs = FederationManifest.load(setup.manifest), consortium.resolve() / "runs"
        else:
            task_path = (task or default_task_path()).resolve()
            manifest = _manifest(
                workdir.resolve(), party, consent, node, task_path, max_epsilon, training.private
            )
            runs = workdir / "runs"
            if owner or owner_key:
                if not (owner and owner_key):
                    raise FedscoreError("sign with both --owner NAME and --owner-key KEY")
                signer = OwnerIdentity(owner, owner_key)
        parties = len(manifest.node_configs)
        settings = ServerSettings.new_run(
            run.replace(min_parties=min(run.min_parties, parties)),
            task_path,
            runs,
            parties,
            test.resolve() if test else None,
        )
        if signer is not None:
            settings = settings.signed_by(signer)
        run_dir = run_simulated_training(settings, manifest, verbose=verbose)
    except FedscoreError as error:
        fail(error)
    exit_unless_done(run_dir)


def _manifest(
    workdir: Path,
    party: list[str],
    consent: list[str],
    node: list[Path],
    task: Path,
    max_epsilon: float,
    private: bool,
) -> FederationManifest:
    """The federation of `--node` configs and `--party` tables (their nodes set up).

    Args:
        workdir: where --party nodes are set up and the manifest is written.
        party: the --party NAME=FILE options.
        consent: the --consent NAME=FILE options.
        node: the --node config files.
        task: the task schema.
        max_epsilon: the budget of the --party nodes.
        private: a private run (else --party nodes take part in non-private runs).
    """
    from fedscore.clients.federation import FederationManifest
    from fedscore.clients.party_setup import write_party_node

    node_configs = [p.resolve() for p in node]
    consents = named_files(consent, "--consent")
    for name, file in named_files(party, "--party").items():
        home = workdir / "institutions" / name
        node_configs.append(
            write_party_node(
                home,
                name,
                file,
                task,
                max_epsilon,
                allow_non_private=not private,
                consent=consents.pop(name, None),
            )
        )
    if consents:
        raise FedscoreError(f"--consent names no --party institution: {sorted(consents)}")
    if len(node_configs) < 1:
        raise typer.BadParameter(
            "name at least one party (--party NAME=FILE, --node, or --consortium)"
        )
    manifest_path = workdir / "federation.toml"
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    FederationManifest(tuple(node_configs)).save(manifest_path)
    return FederationManifest.load(manifest_path)


def register(app: typer.Typer) -> None:
    """Add `fedscore train` to the `fedscore` command line.

    Args:
        app: the `fedscore` command line.
    """
    app.command("train")(train)
