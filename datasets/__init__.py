"""The bundled default data set, its task schema and the demo market split."""

from importlib import resources
from pathlib import Path


def default_task_path() -> Path:
    """The default-risk task schema that ships with fedscore."""
    return bundled_task_path("default_risk")


def bundled_task_path(name: str) -> Path:
    """A task schema that ships with fedscore: "default_risk" or "early_delinquency"."""
    return Path(str(resources.files("fedscore.datasets").joinpath(f"tasks/{name}.toml")))
