"""Command-line options shared by the commands that stand up and drive a consortium."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
