"""The bundled default data set, its task schema and the demo market split."""

from importlib import resources
from pathlib import Path


def default_task_path() -> Path:
    """The default-risk task schema that ships with fedscore."""
    return Path(str(resources.files("fedscore.datasets").joinpath("tasks/default_risk.toml")))
