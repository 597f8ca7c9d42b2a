"""`fedscore pki|server|node|run|runs|stop`: standing up and driving a real consortium."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from fedscore.cli.output import console, fail
from fedscore.core.errors import FedscoreError

if TYPE_CHECKING:
    from fedscore.deployment.superlink import ServerConfig
    from fedscore.deployment.supernode import NodeDeployment


pki_app = typer.Typer(help="The consortium's PKI: CA, SuperLink certificate, node keys.")
server_app = typer.Typer(help="The coordinator's SuperLink.")
node_app = typer.Typer(help="An institution's SuperNode.")

#: Flower's client settings for `fedscore run|runs|stop` (kept apart from ~/.flwr).
DEFAULT_FLWR_HOME = Path("~/.fedscore/flwr").expanduser()
PkiDir = Annotated[Path, typer.Option("--dir", help="The consortium PKI folder.")]
InsecureDev = Annotated[
    bool,
    typer.Option(
        "--insecure-dev",
        help="Plaintext, no node authentication: development only (prints a warning).",
    ),
]
SuperLinkAddress = Annotated[
    str, typer.Option("--superlink", help="The SuperLink's address as host:port.")
]
RootCertificates = Annotated[
    Path | None,
    typer.Option(help="The consortium CA certificate (ca.crt) the SuperLink's is signed by."),
]
FlwrHome = Annotated[
    Path,
    typer.Option(help="Folder for Flower's client settings (kept apart from ~/.flwr)."),
]


@pki_app.command("init")
def pki_init(
    pki_dir: PkiDir,
    san: Annotated[
        list[str], typer.Option(help="An address of the SuperLink (IP or DNS name); repeat.")
    ],
    organization: Annotated[str, typer.Option(help="The consortium's name.")] = "",
    valid_days: Annotated[int, typer.Option(help="Validity of the certificates.")] = 825,
) -> None:
    """Create the consortium CA and the SuperLink's TLS certificate."""
    from fedscore.deployment.pki import init_pki

    try:
        layout = init_pki(pki_dir, san, valid_days, organization)
    except FedscoreError as error:
        fail(error)
    console.print(
        f"CA: {layout.ca_cert} (give it to every institution; keep {layout.ca_key} secret)\n"
        f"SuperLink: {layout.server_cert} for {', '.join(san)}",
        markup=False,
    )


@pki_app.command("node")
def pki_node(
    name: Annotated[str, typer.Argument(help="The institution's party name.")],
    pki_dir: PkiDir,
) -> None:
    """Create an institution's SuperNode key pair and add it to the consortium's node list."""
    from fedscore.deployment.pki import issue_node_key

    try:
        private, public = issue_node_key(pki_dir, name)
    except FedscoreError as error:
        fail(error)
    console.print(
        f"{name}: private key {private} (to the institution only), public key {public} "
        "(added to nodes.toml; restart the SuperLink or re-run `server start` to register)",
        markup=False,
    )


@server_app.command("start")
def server_start(
    config: Annotated[Path, typer.Option(help="The coordinator's server.toml.")],
    insecure_dev: InsecureDev = False,
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for start-up.")] = 60.0,
) -> None:
    """Run the SuperLink (TLS, node authentication) until SIGTERM/SIGINT."""
    from fedscore.deployment.connection import write_connection
    from fedscore.deployment.pki import PkiLayout
    from fedscore.deployment.superlink import (
        ServerConfig,
        flower_environment,
        register_nodes,
        superlink_command,
        wait_for_port,
    )

    try:
        settings = _plaintext_if_asked(ServerConfig.from_toml(config), insecure_dev)
        command = superlink_command(settings)
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        flwr_home = settings.state_dir / "flwr-home"
        log = (settings.state_dir / "superlink.log").open("ab")
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=flower_environment(flwr_home)
        )
    except FedscoreError as error:
        fail(error)
    _stop_on_signals(process)
    try:
        wait_for_port(settings.client_host, settings.port, ready_timeout, process)
        root = None if settings.insecure_dev else PkiLayout(settings.pki).ca_cert
        connection = write_connection(flwr_home, settings.address, root)
        registered = (
            [] if settings.insecure_dev else register_nodes(settings, connection, flwr_home)
        )
    except FedscoreError as error:
        process.terminate()
        process.wait(timeout=30)
        fail(error)
    console.print(
        f"SuperLink ready on {settings.host}:{settings.port} (HTTPS: SuperNodes and model "
        "owners); "
        f"{len(registered)} node(s) newly registered; state {settings.database_file}",
        markup=False,
    )
    raise typer.Exit(code=_exit_status(process.wait()))


@node_app.command("start")
def node_start(
    config: Annotated[Path, typer.Option(help="The institution's node config (node.toml).")],
    insecure_dev: InsecureDev = False,
    wait_for_activation: Annotated[
        float,
        typer.Option(
            help="Seconds to keep retrying when the SuperLink refuses to activate the node "
            "(it still sees the session of a node that died, for up to 60 s)."
        ),
    ] = 120.0,
) -> None:
    """Run this institution's SuperNode until SIGTERM/SIGINT."""
    import time

    from fedscore.deployment.superlink import flower_environment
    from fedscore.deployment.supernode import ACTIVATION_REFUSED, NodeDeployment, supernode_command

    try:
        deployment = _plaintext_if_asked(NodeDeployment.from_toml(config), insecure_dev)
        command = supernode_command(config, deployment)
    except FedscoreError as error:
        fail(error)
    give_up = time.monotonic() + wait_for_activation
    while True:
        process = subprocess.Popen(
            command,
            env=flower_environment(config.parent / ".flwr-home"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        _stop_on_signals(process)
        refused = threading.Event()
        # Flower's log, passed through as it comes. A thread, because processes the
        # SuperNode started may keep the pipe open after it exits.
        pump = threading.Thread(
            target=_pass_through, args=(process.stdout, ACTIVATION_REFUSED, refused), daemon=True
        )
        pump.start()
        code = process.wait()
        pump.join(timeout=2)
        if not refused.is_set() or time.monotonic() >= give_up:
            raise typer.Exit(code=_exit_status(code))
        console.print(
            "the SuperLink refused to activate this node (a previous session of it may still "
            "count as online); retrying in 5 s",
            style="yellow",
        )
        time.sleep(5)


def run(
    superlink: SuperLinkAddress,
    parties: Annotated[int, typer.Option(help="How many institutions the run waits for.")] = 0,
    runs_dir: Annotated[
        Path | None, typer.Option(help="Where the coordinator writes run directories (its path).")
    ] = None,
    root_certificates: RootCertificates = None,
    rounds: Annotated[int, typer.Option(help="Federated rounds.")] = 10,
    epsilon: Annotated[float, typer.Option(help="Epsilon each party spends on this run.")] = 1.0,
    model: Annotated[str, typer.Option(help="Model: lr or mlp.")] = "lr",
    test: Annotated[
        Path | None, typer.Option(help="Consortium test table (on the coordinator).")
    ] = None,
    option: Annotated[
        list[str], typer.Option(help="More run settings as key=value (run config keys).")
    ] = [],  # noqa: B006
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue the run in this run directory from its last checkpoint, with its "
            "own settings (after the coordinator crashed)."
        ),
    ] = None,
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
    """Start a training run on the running federation (or resume one) and stream its progress."""
    from fedscore.deployment.runs import resume_settings, start_run

    try:
        if resume is not None:
            settings = resume_settings(resume)
        else:
            if parties < 1 or runs_dir is None:
                raise FedscoreError("a new run needs --parties and --runs-dir")
            settings = {
                "parties": parties,
                "runs-dir": str(runs_dir),
                "rounds": rounds,
                "epsilon": epsilon,
                "model": model,
                "secure-aggregation": secure_aggregation,
            }
            if test is not None:
                settings["consortium-test"] = str(test)
        for item in option:
            key, sep, value = item.partition("=")
            if not sep:
                raise FedscoreError(f"--option expects key=value, got '{item}'")
            settings[key] = _typed(value)
        status = start_run(superlink, root_certificates, flwr_home, settings, insecure_dev)
    except FedscoreError as error:
        fail(error)
    raise typer.Exit(code=status)


def runs(
    superlink: SuperLinkAddress,
    root_certificates: RootCertificates = None,
    flwr_home: FlwrHome = DEFAULT_FLWR_HOME,
    insecure_dev: InsecureDev = False,
) -> None:
    """List the federation's runs."""
    _flwr(["ls"], superlink, root_certificates, flwr_home, insecure_dev)


def stop(
    run_id: Annotated[str, typer.Argument(help="The Flower run id (see `fedscore runs`).")],
    superlink: SuperLinkAddress,
    root_certificates: RootCertificates = None,
    flwr_home: FlwrHome = DEFAULT_FLWR_HOME,
    insecure_dev: InsecureDev = False,
) -> None:
    """Stop a run."""
    _flwr(["stop", run_id], superlink, root_certificates, flwr_home, insecure_dev)


def _flwr(
    arguments: list[str],
    superlink: str,
    root_certificates: Path | None,
    flwr_home: Path,
    insecure_dev: bool,
) -> NoReturn:
    """Run a `flwr` command against the federation and exit with its status."""
    from fedscore.deployment.runs import flwr_command

    try:
        status = flwr_command(arguments, superlink, root_certificates, flwr_home, insecure_dev)
    except FedscoreError as error:
        fail(error)
    raise typer.Exit(code=status)


def register(app: typer.Typer) -> None:
    """Add the deployment commands to the `fedscore` command line."""
    app.add_typer(pki_app, name="pki")
    app.add_typer(server_app, name="server")
    app.add_typer(node_app, name="node")
    app.command("run")(run)
    app.command("runs")(runs)
    app.command("stop")(stop)


_Settings = TypeVar("_Settings", "ServerConfig", "NodeDeployment")


def _plaintext_if_asked(settings: _Settings, insecure_dev: bool) -> _Settings:
    """The settings, in plaintext mode if the flag (or the config file) asks for it; then
    the warning is printed."""
    from fedscore.deployment.superlink import INSECURE_WARNING

    if insecure_dev:
        settings = dataclasses.replace(settings, insecure_dev=True)
    if settings.insecure_dev:
        console.print(INSECURE_WARNING, style="bold red", markup=False)
    return settings


def _stop_on_signals(process: subprocess.Popen) -> None:
    """Pass SIGTERM/SIGINT on to the Flower process, so it shuts down cleanly."""

    def forward(signum: int, _frame: object) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)


def _pass_through(stream: IO[str], marker: str, seen: threading.Event) -> None:
    """Copy a child's output to ours line by line; set `seen` when a line holds `marker`."""
    for line in stream:
        sys.stdout.write(line)
        sys.stdout.flush()
        if marker in line:
            seen.set()


def _typed(value: str) -> object:
    """A run-config value as TOML reads it (30 → int, 0.5 → float, true → bool), else text."""
    import tomllib

    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def _exit_status(code: int) -> int:
    # Stopped by a signal we forwarded: a clean stop.
    return 0 if code < 0 or code in (130, 143) else code
