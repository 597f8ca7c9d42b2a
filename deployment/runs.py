"""The model owner's side: start, list and stop runs on a running federation.

These wrap Flower's own command line (`flwr run`, `flwr ls`, `flwr stop`) rather than
re-implementing its protocol: fedscore only writes the connection (address and CA
certificate) and turns fedscore's run settings into Flower's run config.
"""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import fedscore
from fedscore.core.errors import ConfigError
from fedscore.core.runconfig import RunConfig
from fedscore.deployment.connection import write_connection
from fedscore.deployment.superlink import flower_environment, flower_tool


def app_project_dir() -> Path:
    """The folder holding fedscore's Flower app definition (pyproject.toml [tool.flwr.app]).

    Raises:
        ConfigError: fedscore was not installed from a source checkout.
    """
    root = Path(fedscore.__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or "[tool.flwr.app]" not in pyproject.read_text("utf-8"):
        raise ConfigError(
            f"no Flower app definition at {root}: install fedscore from its source checkout "
            "(pip install -e .) on the model owner's machine"
        )
    return root


def run_config_argument(settings: Mapping[str, object]) -> str:
    """Flower's `--run-config` string: space-separated key=value, strings quoted."""
    parts = []
    for key, value in settings.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float):
            text = repr(value)
        else:
            text = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


def resume_settings(run_dir: Path) -> dict[str, object]:
    """The run config that resumes the run in `run_dir` (the coordinator reads the run's
    own settings there; see `ServerSettings`).

    Raises:
        ConfigError: `run_dir` holds no run configuration.
    """
    if not (run_dir / "run_config.json").is_file():
        raise ConfigError(f"cannot resume: {run_dir} holds no run_config.json")
    return {"run-dir": str(run_dir.resolve()), "resume": True}


def start_run(
    superlink: str,
    root_certificates: Path | None,
    flwr_home: Path,
    settings: Mapping[str, object],
    insecure_dev: bool = False,
) -> int:
    """Start a run with `settings` and stream its logs until it ends; returns the exit status.

    Raises:
        ConfigError: no CA certificate given (and not `insecure_dev`), or settings the
            coordinator would refuse.
    """
    if not settings.get("resume"):
        check_new_run(settings)
    connection = _connect(superlink, root_certificates, flwr_home, insecure_dev)
    command = [
        flower_tool("flwr"),
        "run",
        str(app_project_dir()),
        connection,
        "--stream",
        "--run-config",
        run_config_argument(settings),
    ]
    return subprocess.run(command, env=flower_environment(flwr_home), check=False).returncode


def check_new_run(settings: Mapping[str, object]) -> None:
    """Refuse here, before anything starts, a new run the coordinator would refuse.

    Args:
        settings: the run config given to `flwr run` (over the app's defaults in
            pyproject.toml `[tool.flwr.app.config]`).

    Raises:
        ConfigError: a setting is unknown or of the wrong type, settings contradict each
            other (e.g. a robust strategy with secure aggregation), or the strategy's own
            settings do not fit the number of parties.
    """
    from fedscore.server.settings import PARTIES_KEY, SERVER_KEYS
    from fedscore.server.strategy import build_strategy

    pyproject = tomllib.loads((app_project_dir() / "pyproject.toml").read_text("utf-8"))
    merged = {**pyproject["tool"]["flwr"]["app"]["config"], **settings}
    run = RunConfig.from_flower({k: v for k, v in merged.items() if k not in SERVER_KEYS})
    if run.extra:
        raise ConfigError(f"run config: unknown setting(s) {sorted(run.extra)}")
    build_strategy(run, int(merged.get(PARTIES_KEY, 0) or 0))


def flwr_command(
    arguments: Sequence[str],
    superlink: str,
    root_certificates: Path | None,
    flwr_home: Path,
    insecure_dev: bool = False,
) -> int:
    """Run `flwr ARGUMENTS... <connection>` against the federation; returns its status."""
    connection = _connect(superlink, root_certificates, flwr_home, insecure_dev)
    command = [flower_tool("flwr"), *arguments, connection]
    return subprocess.run(command, env=flower_environment(flwr_home), check=False).returncode


def _connect(
    superlink: str, root_certificates: Path | None, flwr_home: Path, insecure_dev: bool
) -> str:
    if root_certificates is None and not insecure_dev:
        raise ConfigError("name the consortium CA certificate with --root-certificates")
    if root_certificates is not None and not root_certificates.is_file():
        raise ConfigError(f"{root_certificates}: no such CA certificate")
    return write_connection(
        flwr_home,
        superlink,
        None if insecure_dev else root_certificates.resolve(),  # type: ignore[union-attr]
    )
