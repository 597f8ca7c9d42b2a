"""`fedscore pki|server|node`: the consortium's PKI, the coordinator and the institutions' nodes.

The coordinator and each node are a group of processes that live and die together.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from fedscore.cli.consortium_options import InsecureDev, PkiDir
from fedscore.cli.output import console, fail
from fedscore.core.errors import FedscoreError

if TYPE_CHECKING:
    from fedscore.deployment.processes import ProcessGroup
    from fedscore.deployment.superlink import ServerConfig
    from fedscore.deployment.supernode import NodeDeployment

pki_app = typer.Typer(help="The consortium's PKI: CA, SuperLink certificate, node keys.")
server_app = typer.Typer(help="The coordinator's SuperLink.")
node_app = typer.Typer(help="An institution's SuperNode.")


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
    """Register the node list's new keys with the coordinator's running SuperLink.

    Registration goes over loopback: it is not reachable from the network.
    """
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
    from fedscore.deployment.superlink import (
        ServerConfig,
        executor_command,
        flower_environment,
        gateway_command,
        register_nodes,
        superlink_command,
        wait_for_port,
    )

    with _group_or_fail() as group:
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
    console.print(
        f"SuperLink ready: institutions' nodes connect to {settings.host}:{settings.port} "
        f"(fleet API only); runs are started on this machine at {settings.address}; "
        f"{len(registered)} node(s) newly registered; "
        f"state {settings.database_file or 'in memory'}",
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
    from fedscore.clients.node_state import StateLock, claim_state
    from fedscore.deployment import supernode as node_process
    from fedscore.deployment.superlink import flower_environment

    with _group_or_fail() as group:
        deployment = _plaintext_if_asked(
            node_process.NodeDeployment.from_toml(config), insecure_dev
        )
        command = node_process.supernode_command(config, deployment)
        node = NodeConfig.from_toml(config)
        state_lock = StateLock(node.state_dir)  # held until this command ends
        state_lock.acquire()
        claim_state(node.state_dir, node.party)
        group.stop_on_signals()
        group.start(
            "executor",
            node_process.executor_command(config, deployment),
            node.state_dir / "executor.log",
        )
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
        refused, activated = threading.Event(), threading.Event()
        markers = {node_process.ACTIVATION_REFUSED: refused, node_process.ACTIVATED: activated}
        # Flower's log, passed through as it comes. A thread, because processes the
        # SuperNode started may keep the pipe open after it exits.
        pump = threading.Thread(target=_pass_through, args=(supernode.stdout, markers), daemon=True)
        pump.start()
        ended = group.wait()
        if ended is not None and ended.process is supernode:
            pump.join(timeout=2)
            retry = _reconnect_reason(refused.is_set(), activated.is_set(), give_up)
            if retry:
                group.members.remove(ended)
                console.print(f"{retry}; starting the SuperNode again in 5 s", style="yellow")
                if activated.is_set():  # a new session: refusals are retried afresh
                    give_up = time.monotonic() + wait_for_activation
                time.sleep(5)
                continue
        group.stop()
        pump.join(timeout=2)
        code = supernode.returncode
        if ended is not None and ended.process is not supernode:
            console.print(f"the {ended.name} stopped (status {ended.process.returncode})")
            code = 1
        raise typer.Exit(code=_exit_status(code if code is not None else 0))


def register(app: typer.Typer) -> None:
    """Add the PKI, coordinator and node commands to the `fedscore` command line."""
    app.add_typer(pki_app, name="pki")
    app.add_typer(server_app, name="server")
    app.add_typer(node_app, name="node")


@contextmanager
def _group_or_fail() -> Iterator[ProcessGroup]:
    """A new process group; starting it fails with the error printed, the group stopped."""
    from fedscore.deployment.processes import ProcessGroup

    group = ProcessGroup()
    try:
        yield group
    except FedscoreError as error:
        group.stop()
        fail(error)


_Settings = TypeVar("_Settings", "ServerConfig", "NodeDeployment")


def _plaintext_if_asked(settings: _Settings, insecure_dev: bool) -> _Settings:
    """The settings, in plaintext mode if the flag (or the config file) asks for it.

    In plaintext mode the warning is printed too.
    """
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


def _pass_through(stream: IO[str], markers: dict[str, threading.Event]) -> None:
    """Copy a child's output to ours line by line; set each marker's event when a line holds it."""
    for line in stream:
        sys.stdout.write(line)
        sys.stdout.flush()
        for marker, seen in markers.items():
            if marker in line:
                seen.set()


def _reconnect_reason(refused: bool, activated: bool, give_up: float) -> str:
    """Why a SuperNode that stopped on its own is started again ("": it is not).

    Args:
        refused: the SuperLink refused to activate it.
        activated: it had been activated (was a member of the federation).
        give_up: until when (monotonic clock) a refused activation is retried.
    """
    import time

    if activated:
        # A coordinator restarted with its state in memory no longer knows the node's id:
        # Flower's SuperNode then stops itself; it must activate again.
        return "the SuperNode lost its session with the coordinator (restarted?)"
    if refused and time.monotonic() < give_up:
        return (
            "the SuperLink refused to activate this node (a previous session of it may still "
            "count as online)"
        )
    return ""


def _exit_status(code: int) -> int:
    # Stopped by a signal we forwarded: a clean stop.
    return 0 if code < 0 or code in (130, 143) else code
