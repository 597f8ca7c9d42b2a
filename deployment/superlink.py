"""The coordinator's SuperLink: Flower's server process, with TLS and SuperNode authentication.

`fedscore server start --config server.toml` starts `flower-superlink` with

- TLS on every API, from the consortium PKI (no plaintext unless `insecure_dev`),
- SuperNode authentication: only nodes whose public key is in the consortium's node
  list (`nodes.toml`) are let in; they are registered when the SuperLink is up,
- its state in an SQLite file (runs, nodes, messages survive a restart),
- no runtime installation of app dependencies and no telemetry,

and stops it cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedscore.core.documents import read_toml
from fedscore.core.errors import ConfigError
from fedscore.deployment.pki import PkiLayout, load_node_list

INSECURE_WARNING = (
    "WARNING: --insecure-dev: the SuperLink runs WITHOUT TLS and WITHOUT node "
    "authentication. Model updates and ledger entries cross the network in plaintext. "
    "Never use this outside a development machine."
)


@dataclass(frozen=True)
class ServerConfig:
    """The coordinator's settings (server.toml).

    Attributes:
        host: the address the SuperLink listens on ("0.0.0.0" for every interface).
        port: the one port of all its APIs (Flower 1.42 serves the Fleet API for
            SuperNodes, the Control API for model owners and the runtime API for its
            own ServerApp processes over HTTPS on one port).
        database: the SuperLink's state file (SQLite).
        pki: the consortium PKI folder (CA, server certificate, node list).
        state_dir: where the coordinator keeps logs and its Flower client settings.
        insecure_dev: no TLS, no node authentication (development only).
    """

    pki: Path
    state_dir: Path
    host: str = "0.0.0.0"
    port: int = 9092
    database: Path | None = None
    insecure_dev: bool = False

    @property
    def database_file(self) -> Path:
        return self.database or self.state_dir / "superlink.sqlite"

    @property
    def client_host(self) -> str:
        """The host clients on this machine use (loopback for a wildcard bind)."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host

    @property
    def address(self) -> str:
        """Where clients on this machine reach the SuperLink."""
        return f"{self.client_host}:{self.port}"

    @classmethod
    def from_toml(cls, path: Path) -> ServerConfig:
        """Read server.toml; relative paths are relative to it.

        Raises:
            ConfigError: the file is unreadable or a setting is missing or wrong.
        """
        doc = read_toml(path, "server config")
        section: dict[str, Any] = doc.get("superlink", {})
        base = path.parent

        def resolve(value: str) -> Path:
            candidate = Path(value).expanduser()
            return candidate if candidate.is_absolute() else (base / candidate).resolve()

        if "pki" not in section:
            raise ConfigError(f"{path}: [superlink] needs 'pki' (the consortium PKI folder)")
        try:
            return cls(
                pki=resolve(str(section["pki"])),
                state_dir=resolve(str(section.get("state_dir", "state"))),
                host=str(section.get("host", "0.0.0.0")),
                port=int(section.get("port", 9092)),
                database=resolve(str(section["database"])) if "database" in section else None,
                insecure_dev=bool(section.get("insecure_dev", False)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: a [superlink] setting has the wrong type ({exc})") from exc


def superlink_command(config: ServerConfig) -> list[str]:
    """The `flower-superlink` command line for `config`.

    Raises:
        ConfigError: a certificate or key of the PKI is missing.
    """
    command = [
        flower_tool("flower-superlink"),
        "--host",
        config.host,
        "--port",
        str(config.port),
        "--database",
        str(config.database_file),
        "--disable-runtime-dependency-installation",
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


def flower_environment(flwr_home: Path) -> dict[str, str]:
    """The environment Flower's tools run in: private settings folder, no telemetry."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "FLWR_HOME": str(flwr_home),
        "FLWR_TELEMETRY_ENABLED": "0",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen | None) -> None:
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
