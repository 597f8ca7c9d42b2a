"""`fedscore pki|server|node|run|runs|stop`: standing up and driving a real consortium."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from fedscore.cli.output import console, fail
from fedscore.core.errors import FedscoreError

if TYPE_CHECKING:
    from fedscore.core.run_request import OwnerIdentity
    from fedscore.deployment.processes import ProcessGroup
    from fedscore.deployment.runs import FederationConnection
    from fedscore.deployment.superlink import ServerConfig
    from fedscore.deployment.supernode import NodeDeployment


pki_app = typer.Typer(help="The consortium's PKI: CA, SuperLink certificate, node keys.")
server_app = typer.Typer(help="The coordinator's SuperLink.")
node_app = typer.Typer(help="An institution's SuperNode.")
owner_app = typer.Typer(help="A model owner's signing key (who may start runs).")

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
    str,
    typer.Option(
        "--superlink", help="The SuperLink's control API as host:port (on the coordinator)."
    ),
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
    register: Annotated[
        Path | None,
        typer.Option(
            "--register",
            help="server.toml of the running coordinator (on this machine): register the "
            "new key with its SuperLink now.",
        ),
    ] = None,
) -> None:
    """Create an institution's SuperNode key pair and add it to the consortium's node list."""
    from fedscore.deployment.pki import issue_node_key

    try:
        private, public = issue_node_key(pki_dir, name)
        registered = _register_now(register) if register is not None else []
    except FedscoreError as error:
        fail(error)
    when = (
        "registered with the running SuperLink"
        if name in registered
        else "registered when `fedscore server start` next starts (or use --register)"
    )
    console.print(
        f"{name}: private key {private} (to the institution only), public key {public} "
        f"(added to nodes.toml; {when})",
        markup=False,
    )


def _register_now(server_config: Path) -> list[str]:
    """Register the node list's new keys with the coordinator's running SuperLink (on
    loopback: registration is not reachable from the network)."""
    from fedscore.deployment.connection import write_connection
    from fedscore.deployment.pki import PkiLayout
    from fedscore.deployment.superlink import ServerConfig, register_nodes

    settings = ServerConfig.from_toml(server_config)
    flwr_home = settings.state_dir / "flwr-home"
    connection = write_connection(flwr_home, settings.address, PkiLayout(settings.pki).ca_cert)
    return register_nodes(settings, connection, flwr_home)


@server_app.command("start")
def server_start(
    config: Annotated[Path, typer.Option(help="The coordinator's server.toml.")],
    insecure_dev: InsecureDev = False,
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for start-up.")] = 60.0,
) -> None:
    """Run the coordinator (SuperLink on loopback, executor, fleet gateway) until SIGTERM."""
    from fedscore.deployment.connection import write_connection
    from fedscore.deployment.pki import PkiLayout
    from fedscore.deployment.processes import ProcessGroup
    from fedscore.deployment.superlink import (
        ServerConfig,
        executor_command,
        flower_environment,
        gateway_command,
        register_nodes,
        superlink_command,
        wait_for_port,
    )

    group = ProcessGroup()
    try:
        settings = _plaintext_if_asked(ServerConfig.from_toml(config), insecure_dev)
        command = superlink_command(settings)
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        flwr_home = settings.state_dir / "flwr-home"
        environment = flower_environment(flwr_home)
        group.stop_on_signals()
        superlink = group.start(
            "SuperLink", command, settings.state_dir / "superlink.log", environment
        )
        host = settings.client_host if settings.insecure_dev else "127.0.0.1"
        wait_for_port(host, settings.superlink_port, ready_timeout, superlink)
        group.start("executor", executor_command(settings), settings.state_dir / "executor.log")
        if not settings.insecure_dev:
            gateway = group.start(
                "fleet gateway", gateway_command(settings), settings.state_dir / "gateway.log"
            )
            wait_for_port(settings.client_host, settings.port, ready_timeout, gateway)
        root = None if settings.insecure_dev else PkiLayout(settings.pki).ca_cert
        connection = write_connection(flwr_home, settings.address, root)
        registered = (
            [] if settings.insecure_dev else register_nodes(settings, connection, flwr_home)
        )
    except FedscoreError as error:
        group.stop()
        fail(error)
    console.print(
        f"SuperLink ready: institutions' nodes connect to {settings.host}:{settings.port} "
        f"(fleet API only); runs are started on this machine at {settings.address}; "
        f"{len(registered)} node(s) newly registered; state {settings.database_file}",
        markup=False,
    )
    _supervise(group)


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
    """Run this institution's SuperNode and executor until SIGTERM/SIGINT."""
    import time

    from fedscore.clients.node import NodeConfig
    from fedscore.deployment.processes import ProcessGroup
    from fedscore.deployment.superlink import flower_environment
    from fedscore.deployment.supernode import (
        ACTIVATION_REFUSED,
        NodeDeployment,
        executor_command,
        supernode_command,
    )

    group = ProcessGroup()
    try:
        deployment = _plaintext_if_asked(NodeDeployment.from_toml(config), insecure_dev)
        command = supernode_command(config, deployment)
        node = NodeConfig.from_toml(config)
        group.stop_on_signals()
        group.start(
            "executor", executor_command(config, deployment), node.state_dir / "executor.log"
        )
    except FedscoreError as error:
        group.stop()
        fail(error)
    give_up = time.monotonic() + wait_for_activation
    while True:
        supernode = subprocess.Popen(
            command,
            env=flower_environment(config.parent / ".flwr-home"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        group.adopt("SuperNode", supernode)
        refused = threading.Event()
        # Flower's log, passed through as it comes. A thread, because processes the
        # SuperNode started may keep the pipe open after it exits.
        pump = threading.Thread(
            target=_pass_through,
            args=(supernode.stdout, ACTIVATION_REFUSED, refused),
            daemon=True,
        )
        pump.start()
        ended = group.wait()
        if ended is not None and ended.process is supernode and refused.is_set():
            pump.join(timeout=2)
            if time.monotonic() < give_up:
                group.members.remove(ended)
                console.print(
                    "the SuperLink refused to activate this node (a previous session of it "
                    "may still count as online); retrying in 5 s",
                    style="yellow",
                )
                time.sleep(5)
                continue
        group.stop()
        pump.join(timeout=2)
        code = supernode.returncode
        if ended is not None and ended.process is not supernode:
            console.print(f"the {ended.name} stopped (status {ended.process.returncode})")
            code = 1
        raise typer.Exit(code=_exit_status(code if code is not None else 0))


ServerConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--server-config",
        help="The coordinator's server.toml: reach its SuperLink on loopback with its CA "
        "(instead of --superlink and --root-certificates).",
    ),
]
OwnerName = Annotated[
    str | None,
    typer.Option("--owner", help="Your name as a model owner in the consortium's lists."),
]
OwnerKey = Annotated[
    Path | None,
    typer.Option("--owner-key", help="Your model owner's signing key (fedscore owner keygen)."),
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
    rounds: Annotated[int, typer.Option(help="Federated rounds.")] = 10,
    epsilon: Annotated[float, typer.Option(help="Epsilon each party spends on this run.")] = 1.0,
    model: Annotated[str, typer.Option(help="Model: lr or mlp.")] = "lr",
    test: Annotated[
        Path | None, typer.Option(help="Consortium test table (on the coordinator).")
    ] = None,
    task: Annotated[
        Path | None, typer.Option(help="The task schema (default: the bundled default_risk).")
    ] = None,
    release: Annotated[
        Path | None,
        typer.Option(
            help="The approved app release (.fab from `fedscore release build`; a "
            ".release.json beside it is sent along). Default: built from this checkout's HEAD."
        ),
    ] = None,
    option: Annotated[
        list[str], typer.Option(help="More run settings as key=value (run config keys).")
    ] = [],  # noqa: B006
    valid_hours: Annotated[
        float, typer.Option(help="How long institutions accept the signed request.")
    ] = 24.0,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue the run in this run directory from its last checkpoint, with its "
            "own signed request (re-signed for a new validity window with --owner-key)."
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
    """Sign and start a training run (or resume one) on the coordinator; exit 1 unless the
    run did what was asked."""
    from fedscore.deployment.runs import (
        NewRun,
        app_release,
        deployment_run_config,
        new_run_request,
        resumed_run_request,
        run_problems,
        start_run,
    )

    try:
        connection = _connection(
            superlink, server_config, root_certificates, flwr_home, insecure_dev
        )
        identity = _owner(owner, owner_key, required=resume is None)
        app = app_release(release)
        if resume is not None:
            signed = resumed_run_request(resume, identity, valid_hours)
        else:
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
            round_timeout = float(options.pop("round-timeout", 900.0))  # type: ignore[arg-type]
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
            signed = new_run_request(new, identity, app)
        console.print(
            f"run {signed.request.run_id}: signed by {signed.request.owner}, app "
            f"sha256:{signed.request.app_sha256}, request sha256:{signed.sha256}",
            markup=False,
        )
        status = start_run(connection, app, signed, resume=resume is not None)
    except FedscoreError as error:
        fail(error)
    problems = run_problems(signed)
    for problem in problems:
        console.print(f"[bold red]problem:[/] {problem}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1 if problems or status else 0)


def runs(
    superlink: SuperLinkAddress = "",
    server_config: ServerConfigOption = None,
    root_certificates: RootCertificates = None,
    flwr_home: FlwrHome = DEFAULT_FLWR_HOME,
    insecure_dev: InsecureDev = False,
) -> None:
    """List the federation's runs (on the coordinator)."""
    _flwr(["ls"], superlink, server_config, root_certificates, flwr_home, insecure_dev)


def stop(
    run_id: Annotated[str, typer.Argument(help="The Flower run id (see `fedscore runs`).")],
    superlink: SuperLinkAddress = "",
    server_config: ServerConfigOption = None,
    root_certificates: RootCertificates = None,
    flwr_home: FlwrHome = DEFAULT_FLWR_HOME,
    insecure_dev: InsecureDev = False,
) -> None:
    """Stop a run (on the coordinator)."""
    _flwr(["stop", run_id], superlink, server_config, root_certificates, flwr_home, insecure_dev)


@owner_app.command("keygen")
def owner_keygen(
    out: Annotated[Path, typer.Option(help="Where to write the new private key (0600).")],
) -> None:
    """Create a model owner's signing key; its public key goes into the consortium's lists."""
    from fedscore.core.signing import SigningKey

    try:
        key = SigningKey.create(out)
    except FedscoreError as error:
        fail(error)
    console.print(
        f"model owner key {out} (keep it secret); public key for [policy] model_owners and "
        f"the coordinator's [trust] model_owners:\n{key.public_hex}",
        markup=False,
    )


def _flwr(
    arguments: list[str],
    superlink: str,
    server_config: Path | None,
    root_certificates: Path | None,
    flwr_home: Path,
    insecure_dev: bool,
) -> NoReturn:
    """Run a `flwr` command against the federation and exit with its status."""
    from fedscore.deployment.runs import flwr_command

    try:
        connection = _connection(
            superlink, server_config, root_certificates, flwr_home, insecure_dev
        )
        status = flwr_command(arguments, connection)
    except FedscoreError as error:
        fail(error)
    raise typer.Exit(code=status)


def _connection(
    superlink: str,
    server_config: Path | None,
    root_certificates: Path | None,
    flwr_home: Path,
    insecure_dev: bool,
) -> FederationConnection:
    """How to reach the coordinator's control API: from server.toml, or given directly."""
    from fedscore.deployment.pki import PkiLayout
    from fedscore.deployment.runs import FederationConnection
    from fedscore.deployment.superlink import ServerConfig

    if server_config is not None:
        settings = ServerConfig.from_toml(server_config)
        roots = None if settings.insecure_dev else PkiLayout(settings.pki).ca_cert
        return FederationConnection(settings.address, roots, flwr_home)
    if not superlink:
        raise FedscoreError("name the coordinator with --server-config (or --superlink)")
    if root_certificates is None and not insecure_dev:
        raise FedscoreError("name the consortium CA certificate with --root-certificates")
    return FederationConnection(superlink, None if insecure_dev else root_certificates, flwr_home)


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
    """Add the deployment commands to the `fedscore` command line."""
    app.add_typer(pki_app, name="pki")
    app.add_typer(owner_app, name="owner")
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


def _supervise(group: ProcessGroup) -> NoReturn:
    """Wait until a stop is asked for (exit 0) or a process of the group dies (exit 1)."""
    ended = group.wait()
    group.stop()
    if ended is None:
        raise typer.Exit(code=0)
    console.print(
        f"the {ended.name} stopped (status {ended.process.returncode}); stopped the others",
        style="red",
    )
    raise typer.Exit(code=1)


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
