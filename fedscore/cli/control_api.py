"""How `fedscore run|runs|stop` reach the coordinator's control API: options and connection."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fedscore.cli import consortium_options as consortium
from fedscore.core.errors import FedscoreError

if TYPE_CHECKING:
    from fedscore.deployment.runs import FederationConnection

ServerConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--server-config",
        help="The coordinator's server.toml: reach its SuperLink on loopback with its CA "
        "(instead of --superlink and --root-certificates).",
    ),
]


@dataclass(frozen=True)
class ControlApiOptions:
    """The options naming the coordinator's control API (an option group, see `options_of`).

    Attributes:
        superlink: the SuperLink's control API as host:port.
        server_config: the coordinator's server.toml (instead of the two above and below).
        root_certificates: the consortium CA certificate.
        flwr_home: the folder for Flower's client settings.
        insecure_dev: plaintext, no node authentication.
    """

    superlink: consortium.SuperLinkAddress = ""
    server_config: ServerConfigOption = None
    root_certificates: consortium.RootCertificates = None
    flwr_home: consortium.FlwrHome = consortium.DEFAULT_FLWR_HOME
    insecure_dev: consortium.InsecureDev = False

    def connection(self) -> FederationConnection:
        """How to reach the coordinator's control API: from server.toml, or given directly.

        Returns:
            The connection.

        Raises:
            FedscoreError: neither --server-config nor --superlink (with its CA) is given.
        """
        from fedscore.deployment.pki import PkiLayout
        from fedscore.deployment.runs import FederationConnection
        from fedscore.deployment.superlink import ServerConfig

        if self.server_config is not None:
            settings = ServerConfig.from_toml(self.server_config)
            roots = None if settings.insecure_dev else PkiLayout(settings.pki).ca_cert
            return FederationConnection(settings.address, roots, self.flwr_home)
        if not self.superlink:
            raise FedscoreError("name the coordinator with --server-config (or --superlink)")
        if self.root_certificates is None and not self.insecure_dev:
            raise FedscoreError("name the consortium CA certificate with --root-certificates")
        return FederationConnection(
            self.superlink, None if self.insecure_dev else self.root_certificates, self.flwr_home
        )
