"""Options of the commands that read the model registry (`fedscore models|serve|score`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

#: The registry folder when --registry is not given: $FEDSCORE_REGISTRY, else this.
DEFAULT_REGISTRY = Path("~/.fedscore/registry").expanduser()
RegistryDir = Annotated[
    Path,
    typer.Option(
        "--registry",
        envvar="FEDSCORE_REGISTRY",
        help="The model registry folder (scoring needs only its public key).",
    ),
]
ModelVersion = Annotated[
    str,
    typer.Option(
        "--model", help="A registered version (default_risk-v3), or production / <task>@production."
    ),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="Scoring configuration TOML (scorecard, grades, reasons, PSI)."),
]
