"""The bundled decision strategies of the default_risk task (`default.toml`, its challenger)."""

from pathlib import Path


def default_strategy_path() -> Path:
    """The bundled champion strategy file (its challenger lies beside it)."""
    return Path(__file__).with_name("default.toml")
