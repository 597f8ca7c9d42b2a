"""How Flower's own command line (`flwr`) reaches a SuperLink: a named connection.

fedscore keeps Flower's settings in a folder of its own (`FLWR_HOME`), so that what
it configures never mixes with a user's other Flower projects.
"""

from __future__ import annotations

from pathlib import Path

import tomli_w

from fedscore.core.documents import write_text_atomic

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
    # Whole or not at all: `fedscore run`, `runs` and `stop` rewrite it, `flwr` reads it.
    write_text_atomic(
        flwr_home / "config.toml", tomli_w.dumps({"superlink": {"default": name, name: connection}})
    )
    return name
