"""The one place fedscore starts Flower's simulation engine.

Everything else (ServerApp, ClientApp, round loop) is the code that runs in
deployment; only this module knows that the nodes are simulated, so moving to
`flwr run` or to a real federation touches nothing else.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

from flwr.simulation import run_simulation

from fedscore.clients.app import build_client_app
from fedscore.clients.federation import FederationManifest, ManifestResolver
from fedscore.clients.local_data import load_party_data
from fedscore.core.errors import FedscoreError
from fedscore.core.schema import load_schema
from fedscore.core.validation import load_validated
from fedscore.server.app import build_server_app
from fedscore.server.settings import ServerSettings
from fedscore.server.strategy import build_strategy


def simulation_backend(cpus: int | None = None) -> dict[str, object]:
    """Ray settings: one CPU per simulated node, as many nodes at once as there are CPUs."""
    return {
        "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
        "init_args": {
            "num_cpus": cpus or os.cpu_count() or 1,
            "include_dashboard": False,
            "logging_level": logging.ERROR,
            "log_to_driver": False,
        },
    }


def check_inputs(settings: ServerSettings, manifest: FederationManifest) -> None:
    """Validate and de-identify every table before any node starts: a bad file costs nothing.

    In simulation the model owner's machine holds every party's file; in deployment
    each node validates its own table at every round instead. The aggregation strategy
    is built once too, so an unknown name or unfitting settings stop here.
    """
    build_strategy(settings.run, settings.expected_parties)
    schema = load_schema(settings.task_path)
    for node in manifest.nodes():
        load_party_data(node, schema)
    if settings.consortium_test_path is not None:
        load_validated(settings.consortium_test_path, schema, model_columns_only=True)


def run_simulated_training(
    settings: ServerSettings, manifest: FederationManifest, verbose: bool = False
) -> Path:
    """Train one run with every institution of `manifest` as a simulated node.

    Returns the run directory; raises `FedscoreError` if an input is invalid (before
    anything is written) or the run did not finish.
    """
    check_inputs(settings, manifest)
    flwr_logger = logging.getLogger("flwr")
    previous_level = flwr_logger.level
    if not verbose:
        # Flower warns that run_simulation is deprecated in favour of `flwr run`; this
        # module is the one place that would change, so the warning adds nothing here.
        flwr_logger.setLevel(logging.ERROR)
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            run_simulation(
                server_app=build_server_app(settings),
                client_app=build_client_app(ManifestResolver(manifest)),
                num_supernodes=len(manifest.node_configs),
                backend_config=simulation_backend(),  # type: ignore[arg-type]
                verbose_logging=verbose,
            )
    finally:
        flwr_logger.setLevel(previous_level)
    if not (settings.run_dir / "summary.json").is_file():
        raise FedscoreError(
            f"the run did not finish: {settings.run_dir} has no summary.json "
            "(see the messages above for the failing part)"
        )
    return settings.run_dir
