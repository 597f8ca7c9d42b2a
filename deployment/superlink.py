"""The coordinator: Flower's SuperLink behind a fleet-only TLS gateway, and its executor.

`fedscore server start --config server.toml` starts

- `flower-superlink` bound to 127.0.0.1 on an internal port: TLS on every API from the
  consortium PKI, SuperNode authentication (only keys of the consortium's node list,
  registered here on loopback), its state in SQLite, no runtime installation of app
  dependencies, no telemetry, and `--isolation process`: Flower starts no ServerApp;
- fedscore's executor (`deployment/executor.py`), which runs each run's ServerApp only
  if the app is a release the coordinator approved and the run request is signed by a
  model owner it lists;
- the fleet gateway (`deployment/fleet_gateway.py`) on the public address: TLS, and
  only the Fleet API (what SuperNodes use) is forwarded. Starting runs, registering
  nodes and the runtime API are reachable only on the coordinator itself.

It stops all three on SIGTERM/SIGINT, and all of them if one of them dies. This module
builds their command lines and registers the node keys; the settings (server.toml) are
`server_config`'s, and stay importable from here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fedscore.core.errors import ConfigError
from fedscore.deployment.pki import PkiLayout, load_node_list
from fedscore.deployment.server_config import CoordinatorTrust, ServerConfig, ServerDocument

__all__ = [
    "INSECURE_WARNING",
    "CoordinatorTrust",
    "ServerConfig",
    "ServerDocument",
    "executor_command",
    "flower_environment",
    "flower_tool",
    "gateway_command",
    "register_nodes",
    "superlink_command",
    "wait_for_port",
]

#: Seconds between the coordinator executor's requests for a ServerApp task (a new run):
#: a run starts at most this late, and the SuperLink serves 2 such requests a second
#: instead of the 20 a node's executor makes for its messages.
RUN_POLL_SECONDS = 0.5

INSECURE_WARNING = (
    "WARNING: --insecure-dev: the SuperLink runs WITHOUT TLS and WITHOUT node "
    "authentication, and its control API (start runs, register nodes) is on the public "
    "address. Model updates and ledger entries cross the network in plaintext. Never use "
    "this outside a development machine."
)


def superlink_command(config: ServerConfig) -> list[str]:
    """The `flower-superlink` command line for `config`.

    Raises:
        ConfigError: a certificate or key of the PKI is missing.
    """
    command = [
        flower_tool("flower-superlink"),
        "--host",
        config.host if config.insecure_dev else "127.0.0.1",
        "--port",
        str(config.superlink_port),
        "--database",
        config.database_argument,
        "--disable-runtime-dependency-installation",
        "--isolation",
        "process",
    ]
    if config.insecure_dev:
        return [*command, "--insecure"]
    layout = PkiLayout(config.pki)
    for required in (layout.ca_cert, layout.server_cert, layout.server_key, layout.node_list):
        if not required.is_file():
            raise ConfigError(f"{required} is missing: run `fedscore pki init` / `pki node`")
    return [
        *command,
        "--ssl-ca-certfile",
        str(layout.ca_cert),
        "--ssl-certfile",
        str(layout.server_cert),
        "--ssl-keyfile",
        str(layout.server_key),
        "--enable-supernode-auth",
    ]


def executor_command(config: ServerConfig) -> list[str]:
    """The command line of fedscore's executor for the coordinator's ServerApp tasks."""
    command = [
        sys.executable,
        "-I",
        "-m",
        "fedscore.deployment.executor",
        "serverapp",
        "--runtime-api-address",
        f"127.0.0.1:{config.superlink_port}",
        "--config",
        str(config.source),
        "--work-dir",
        str(config.state_dir / "runner"),
        "--poll-interval",
        str(RUN_POLL_SECONDS),
    ]
    if not config.insecure_dev:
        command += ["--root-certificates", str(PkiLayout(config.pki).ca_cert)]
    return command


def gateway_command(config: ServerConfig) -> list[str]:
    """The fleet gateway on the public address, forwarding only the Fleet API."""
    layout = PkiLayout(config.pki)
    return [
        sys.executable,
        "-m",
        "fedscore.deployment.fleet_gateway",
        "--listen",
        f"{config.host}:{config.port}",
        "--upstream-port",
        str(config.superlink_port),
        "--certfile",
        str(layout.server_cert),
        "--keyfile",
        str(layout.server_key),
        "--ca-certfile",
        str(layout.ca_cert),
        "--log-level",
        config.gateway_log_level,
    ]


def flower_environment(flwr_home: Path) -> dict[str, str]:
    """The environment Flower's tools run in: private settings folder, no telemetry."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "FLWR_HOME": str(flwr_home),
        "FLWR_TELEMETRY_ENABLED": "0",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def wait_for_port(
    host: str, port: int, timeout: float, process: subprocess.Popen[Any] | None
) -> None:
    """Block until something accepts connections on host:port.

    Raises:
        ConfigError: the process ended first, or nothing listened within `timeout`.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ConfigError(f"the process exited with status {process.returncode} at start")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise ConfigError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def register_nodes(config: ServerConfig, connection: str, flwr_home: Path) -> list[str]:
    """Register every node of the consortium's node list with the running SuperLink.

    Returns the names registered now (names registered before are skipped).

    Raises:
        ConfigError: Flower refused a registration for another reason.
    """
    keys_dir = config.state_dir / "node-keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    registered: list[str] = []
    for name, line in load_node_list(config.pki).items():
        public = keys_dir / f"{name}.pub"
        public.write_text(line + "\n", encoding="utf-8")
        result = subprocess.run(
            [flower_tool("flwr"), "supernode", "register", str(public), connection],
            env=flower_environment(flwr_home),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = result.stdout + result.stderr
        if result.returncode == 0:
            registered.append(name)
        elif "already" not in output.lower():
            raise ConfigError(f"registering node '{name}' failed: {output.strip()[-500:]}")
    return registered


def flower_tool(name: str) -> str:
    """A Flower executable from this environment (the one fedscore runs in)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name
