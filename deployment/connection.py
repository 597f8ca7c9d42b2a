"""How Flower's own command line (`flwr`) reaches a SuperLink: a named connection.

fedscore keeps Flower's settings in a folder of its own (`FLWR_HOME`), so that what
it configures never mixes with a user's other Flower projects.
"""

from __future__ import annotations

from pathlib import Path

import tomli_w

CONNECTION = "consortium"


def write_connection(
    flwr_home: Path,
    address: str,
    root_certificates: Path | None,
    name: str = CONNECTION,
) -> str:
    """Write `flwr_home/config.toml` with one SuperLink connection; returns its name.

    Args:
        flwr_home: Flower's settings folder for this use.
        address: the SuperLink's Control API as host:port.
        root_certificates: the consortium CA certificate (None: plaintext, development only).
        name: the connection's name.
    """
    connection: dict[str, object] = {"address": address}
    if root_certificates is None:
        connection["insecure"] = True
    else:
        connection["root-certificates"] = str(root_certificates)
    flwr_home.mkdir(parents=True, exist_ok=True)
    (flwr_home / "config.toml").write_text(
        tomli_w.dumps({"superlink": {"default": name, name: connection}}), encoding="utf-8"
    )
    return name
