"""`fedscore owner|run|runs|stop`: a model owner signs runs and drives them on the coordinator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from fedscore.cli.consortium_options import (
    DEFAULT_FLWR_HOME,
    FlwrHome,
    InsecureDev,
    RootCertificates,
    SuperLinkAddress,
)
from fedscore.cli.control_api import ControlApiOptions, ServerConfigOption
from fedscore.cli.option_groups import options_of
from fedscore.cli.output import console, fail
from fedscore.cli.run_options import Epsilon, Model, Rounds
from fedscore.cli.signing_keys import NewKeyFile, create_signing_key
from fedscore.core.errors import FedscoreError

if TYPE_CHECKING:
    from fedscore.core.run_request import OwnerIdentity, SignedRunRequest
    from fedscore.deployment import runs as deployment_runs

owner_app = typer.Typer(help="A model owner's signing key (who may start runs).")
OwnerName = Annotated[
    str | None,
    typer.Option("--owner", help="Your name as a model owner in the consortium's lists."),
]
OwnerKey = Annotated[
    Path | None,
    typer.Option("--owner-key", help="Your model owner's signing key (fedscore owner keygen)."),
]

TestTable = Annotated[Path | None, typer.Option(help="Consortium test table (on the coordinator).")]
TaskSchemaFile = Annotated[
    Path | None, typer.Option(help="The task schema (default: the bundled default_risk).")
]
AppRelease = Annotated[
    Path | None,
    typer.Option(
        help="The approved app release (.fab from `fedscore release build`; a "
        ".release.json beside it is sent along). Default: built from this checkout's HEAD."
    ),
]
ResumedRun = Annotated[
    Path | None,
    typer.Option(
        help="Continue the run in this run directory from its last checkpoint, with its "
        "own signed request (re-signed for a new validity window with --owner-key)."
    ),
]


def run(
    superlink: SuperLinkAddress = "",
    server_config: ServerConfigOption = None,
    owner: OwnerName = None,
    owner_key: OwnerKey = None,
    parties: Annotated[int, typer.Option(help="How many institutions the run waits for.")] = 0,
    runs_dir: Annotated[
        Path | None, typer.Option(help="Where the coordinator writes run directories (its path).")
    ] = None,
    root_certificates: RootCertificates = None,
    rounds: Rounds = 10,
    epsilon: Epsilon = 1.0,
    model: Model = "lr",
    test: TestTable = None,
    task: TaskSchemaFile = None,
    release: AppRelease = None,
    option: Annotated[
        list[str], typer.Option(help="More run settings as key=value (run config keys).")
    ] = [],  # noqa: B006
    valid_hours: Annotated[
        float, typer.Option(help="How long institutions accept the signed request.")
    ] = 24.0,
    resume: ResumedRun = None,
    secure_aggregation: Annotated[
        bool,
        typer.Option(
            "--secure-aggregation/--no-secure-aggregation",
            help="Aggregate with SecAgg+ so the coordinator learns only the sum of the "
            "updates (on by default; off for fedmedian / fedtrimmedavg).",
        ),
    ] = True,
    flwr_home: FlwrHome = DEFAULT_FLWR_HOME,
    insecure_dev: InsecureDev = False,
) -> None:
    """Sign and start a training run (or resume one) on the coordinator.

    Exits with status 1, naming who and why, unless the run did what was asked.
    """
    from fedscore.deployment.runs import (
        NewRun,
        deployment_run_config,
        new_run_request,
        resumed_run_request,
        run_problems,
    )

    def sign(app: deployment_runs.AppRelease) -> SignedRunRequest:
        identity = _owner(owner, owner_key, required=resume is None)
        if resume is not None:
            return resumed_run_request(resume, identity, valid_hours)
        if parties < 1 or runs_dir is None:
            raise FedscoreError("a new run needs --parties and --runs-dir")
        options: dict[str, object] = {
            "rounds": rounds,
            "epsilon": epsilon,
            "model": model,
            "secure-aggregation": secure_aggregation,
        }
        for item in option:
            key, sep, value = item.partition("=")
            if not sep:
                raise FedscoreError(f"--option expects key=value, got '{item}'")
            options[key] = _typed(value)
        round_timeout = _round_timeout(options.pop("round-timeout", 900.0))
        new = NewRun(
            deployment_run_config(options, parties),
            parties,
            runs_dir,
            test,
            task,
            round_timeout,
            valid_hours,
        )
        assert identity is not None
        return new_run_request(new, identity, app)

    control_api = ControlApiOptions(
        superlink, server_config, root_certificates, flwr_home, insecure_dev
    )
    submit(control_api, release, sign, run_problems, resume=resume is not None)


def submit(
    control_api: ControlApiOptions,
    release: Path | None,
    sign: Callable[[deployment_runs.AppRelease], SignedRunRequest],
    problems_of: Callable[[SignedRunRequest], list[str]],
    resume: bool = False,
) -> NoReturn:
    """Sign a run of the release, submit it to the coordinator, stream its log, and exit.

    The exit status is 0 if the run did what was asked, 1 if not (naming who and why), 2
    if it could not be started.

    Args:
        control_api: how to reach the coordinator's control API.
        release: the approved app release (.fab; None: built from this checkout's HEAD).
        sign: the model owner's signed request for a run of that release.
        problems_of: why the finished run is not what was asked (empty: it is).
        resume: the request resumes a run from its last checkpoint.

    Raises:
        typer.Exit: always.
    """
    from fedscore.deployment.runs import app_release, start_run

    try:
        connection = control_api.connection()
        app = app_release(release)
        signed = sign(app)
        console.print(
            f"run {signed.request.run_id}: signed by {signed.request.owner}, app "
            f"sha256:{signed.request.app_sha256}, request sha256:{signed.sha256}",
            markup=False,
        )
        status = start_run(connection, app, signed, resume=resume)
    except FedscoreError as error:
        fail(error)
    from fedscore.server.run_console import print_problems

    problems = problems_of(signed)
    print_problems(console, problems)
    raise typer.Exit(code=1 if problems or status else 0)


@options_of("control_api", ControlApiOptions)
def runs(*, control_api: ControlApiOptions) -> None:
    """List the federation's runs (on the coordinator)."""
    _flwr(["ls"], control_api)


@options_of("control_api", ControlApiOptions)
def stop(
    run_id: Annotated[str, typer.Argument(help="The Flower run id (see `fedscore runs`).")],
    *,
    control_api: ControlApiOptions,
) -> None:
    """Stop a run (on the coordinator)."""
    _flwr(["stop", run_id], control_api)


@owner_app.command("keygen")
def owner_keygen(out: NewKeyFile) -> None:
    """Create a model owner's signing key; its public key goes into the consortium's lists."""
    create_signing_key(
        out,
        "model owner key {out} (keep it secret); public key for [policy] model_owners and "
        "the coordinator's [trust] model_owners:\n{public_hex}",
    )


def _flwr(arguments: list[str], control_api: ControlApiOptions) -> NoReturn:
    """Run a `flwr` command against the federation and exit with its status."""
    from fedscore.deployment.runs import flwr_command

    try:
        status = flwr_command(arguments, control_api.connection())
    except FedscoreError as error:
        fail(error)
    raise typer.Exit(code=status)


def _owner(name: str | None, key: Path | None, required: bool) -> OwnerIdentity | None:
    """The model owner signing the request (None for a resume without re-signing)."""
    from fedscore.core.run_request import OwnerIdentity

    if name and key:
        return OwnerIdentity(name, key)
    if name or key or required:
        raise FedscoreError(
            "sign the run as a model owner: give both --owner NAME and --owner-key KEY "
            "(create one with `fedscore owner keygen`)"
        )
    return None


def register(app: typer.Typer) -> None:
    """Add the model owner's commands to the `fedscore` command line."""
    app.add_typer(owner_app, name="owner")
    app.command("run")(run)
    app.command("runs")(runs)
    app.command("stop")(stop)


def _round_timeout(value: object) -> float:
    """The `--option round-timeout=...` value as seconds.

    Raises:
        FedscoreError: the value is not a number.
    """
    if isinstance(value, int | float | str):
        try:
            return float(value)
        except ValueError:
            pass
    raise FedscoreError(f"--option round-timeout expects a number of seconds, got {value!r}")


def _typed(value: str) -> object:
    """A run-config value as TOML reads it (30 → int, 0.5 → float, true → bool), else text."""
    import tomllib

    from fedscore.core.untrusted_documents import parse_toml

    try:
        return parse_toml(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value
