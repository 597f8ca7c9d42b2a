"""The coordinator's settings: server.toml, read strictly.

`[superlink]` says where the PKI and the coordinator's state live and which addresses
and ports it uses; `[trust]` which app releases it runs and which model owners may
start runs. Relative paths are relative to the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from fedscore.core.app_trust import AppTrust, PublicKeyHex
from fedscore.core.documents import read_toml
from fedscore.core.errors import ConfigError
from fedscore.core.typed_config import parse_section

#: Flower's name for a SuperLink state kept in memory (`flwr.supercore.constant`).
FLWR_IN_MEMORY_DB_NAME = ":flwr-in-memory:"

Port = Annotated[int, Field(ge=1, le=65535)]


class _SuperLinkSection(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    pki: str
    state_dir: str = "state"
    host: str = "0.0.0.0"
    port: Port = 9092
    internal_port: Port | None = None
    state: Literal["memory", "file"] = "memory"
    database: str | None = None
    insecure_dev: bool = False
    gateway_log_level: Literal["debug", "info", "warning"] = "info"


class CoordinatorTrust(AppTrust):
    """What the coordinator runs (`[trust]` of server.toml).

    Attributes:
        model_owners: who may start runs: owner name → Ed25519 public key (hex); the
            coordinator runs only requests one of them signed (and every institution
            checks again against its own list).
    """

    model_owners: dict[str, PublicKeyHex] = Field(default_factory=dict)


class ServerDocument(BaseModel):
    """A whole server.toml."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    superlink: _SuperLinkSection
    trust: CoordinatorTrust = CoordinatorTrust()


@dataclass(frozen=True)
class ServerConfig:
    """The coordinator's settings (server.toml).

    Attributes:
        pki: the consortium PKI folder (CA, server certificate, node list).
        state_dir: where the coordinator keeps logs, its Flower client settings and the
            task runners' working folder.
        host: the public address of the fleet gateway ("0.0.0.0" for every interface).
        port: the one public port: SuperNodes' Fleet API (HTTPS).
        internal_port: the SuperLink's own port on 127.0.0.1 (control, runtime and fleet
            APIs); default `port + 1`.
        state: where the SuperLink keeps its message queue, runs and node registrations:
            "memory" (the default: fastest; lost when the coordinator stops, which costs
            nothing fedscore needs — node keys are registered again at every start from the
            PKI's node list, and a run's durable record is its run directory: checkpoint,
            ledger heads, metrics, from which `fedscore run --resume` continues it) or
            "file" (SQLite at `database`; Flower's run list survives a restart).
        database: the SuperLink's state file when `state = "file"` (default
            `<state_dir>/superlink.sqlite`).
        insecure_dev: no TLS, no node authentication, no gateway (development only).
        gateway_log_level: "debug" logs one line per forwarded Fleet request (path,
            status, time, client address); refusals are logged at every level.
        trust: the releases the coordinator runs and the model owners it accepts.
    """

    pki: Path
    state_dir: Path
    host: str = "0.0.0.0"
    port: int = 9092
    internal_port: int | None = None
    state: str = "memory"
    database: Path | None = None
    insecure_dev: bool = False
    gateway_log_level: str = "info"
    trust: CoordinatorTrust = field(default_factory=CoordinatorTrust)
    source: Path | None = None

    @property
    def database_file(self) -> Path | None:
        """The SuperLink's SQLite file (None: it keeps its state in memory)."""
        if self.state == "memory":
            return None
        return self.database or self.state_dir / "superlink.sqlite"

    @property
    def database_argument(self) -> str:
        """`flower-superlink --database`: the state file, or Flower's in-memory state."""
        return str(self.database_file or FLWR_IN_MEMORY_DB_NAME)

    @property
    def superlink_port(self) -> int:
        """The port `flower-superlink` listens on (on loopback unless insecure_dev)."""
        if self.insecure_dev:
            return self.port
        return self.internal_port or self.port + 1

    @property
    def client_host(self) -> str:
        """The host clients on this machine use (loopback for a wildcard bind)."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host

    @property
    def address(self) -> str:
        """Where the coordinator's own tools reach the SuperLink's control API (loopback).

        The tools are the model owners' commands and node registration.
        """
        return f"127.0.0.1:{self.superlink_port}"

    @classmethod
    def from_toml(cls, path: Path) -> ServerConfig:
        """Read server.toml; relative paths are relative to it.

        Raises:
            ConfigError: the file is unreadable, or a setting is missing, unknown or of the
                wrong type (every problem named).
        """
        document = parse_section(ServerDocument, read_toml(path, "server config"), path)
        section, trust = document.superlink, document.trust
        if section.database and section.state != "file":
            raise ConfigError(
                f'{path}: [superlink] database is used only with state = "file"; set '
                'state = "file" to keep the SuperLink\'s state in that file, or remove it'
            )
        base = path.parent

        def resolve(value: str) -> Path:
            candidate = Path(value).expanduser()
            return candidate if candidate.is_absolute() else (base / candidate).resolve()

        return cls(
            pki=resolve(section.pki),
            state_dir=resolve(section.state_dir),
            host=section.host,
            port=section.port,
            internal_port=section.internal_port,
            state=section.state,
            database=resolve(section.database) if section.database else None,
            insecure_dev=section.insecure_dev,
            gateway_log_level=section.gateway_log_level,
            trust=trust,
            source=path.resolve(),
        )
