"""The one place fedscore starts Flower's simulation engine.

Everything else (ServerApp, ClientApp, round loop) is the code that runs in
deployment; only this module knows that the nodes are simulated, so moving to
`flwr run` or to a real federation touches nothing else.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from pathlib import Path

from flwr.app import ConfigRecordValues
from flwr.clientapp import ClientApp
from flwr.serverapp import ServerApp
from flwr.simulation import run_simulation

from fedscore.clients.app import build_client_app
from fedscore.clients.federation import FederationManifest, ManifestResolver
from fedscore.clients.node import NodeConfig
from fedscore.clients.staged_data_cache import StagedPartyDataCache
from fedscore.core.errors import ConfigError, FedscoreError
from fedscore.core.schema import load_schema
from fedscore.core.validation import load_validated
from fedscore.server.app import build_server_app
from fedscore.server.settings import ServerSettings, round_config
from fedscore.server.strategy import build_strategy

#: How many simulated nodes may handle a message at once (Ray workers), when set; the
#: default is one per CPU. Each worker imports torch and Opacus once (about 4 CPU-s), so
#: small tables train faster with one, and a machine already busy (a test run, another
#: job) is spared the extra processes.
SIMULATION_WORKERS_VARIABLE = "FEDSCORE_SIMULATION_WORKERS"


def simulation_workers() -> int:
    """The Ray workers a simulation starts: `FEDSCORE_SIMULATION_WORKERS`, else one per CPU.

    Raises:
        ConfigError: the variable is set to anything but a positive whole number.
    """
    text = os.environ.get(SIMULATION_WORKERS_VARIABLE, "").strip()
    if not text:
        return os.cpu_count() or 1
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(
            f"{SIMULATION_WORKERS_VARIABLE}={text!r}: give a whole number of workers, 1 or more"
        )
    return int(text)


def simulation_backend(cpus: int | None = None) -> dict[str, dict[str, ConfigRecordValues]]:
    """Ray settings: one CPU per simulated node, `cpus` nodes at once.

    Args:
        cpus: how many simulated nodes run at once (None: `simulation_workers()`).
    """
    return {
        "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
        "init_args": {
            "num_cpus": cpus or simulation_workers(),
            "include_dashboard": False,
            "logging_level": logging.ERROR,
            "log_to_driver": False,
        },
    }


def check_inputs(settings: ServerSettings, manifest: FederationManifest) -> ServerSettings:
    """Ask every party, before anything starts, whether it can take part in the run.

    In simulation the model owner's machine holds every party's configuration, so the
    question the coordinator would ask before round 1 (`check_readiness`) is asked here,
    directly, and every party's problems are reported together; a bad table costs
    nothing. Each table is loaded through the nodes' data cache, staged: once every party
    is ready the entries go to the nodes' state folders, so the simulated nodes' rounds
    find their tables de-identified and encoded already; a run that cannot start writes
    nothing there. Returns the settings marked as checked (the ServerApp does not ask
    again).

    Raises:
        FedscoreError: the strategy does not fit, two entries are the same node, or a
            party cannot take part (every problem of every party listed).
    """
    from fedscore.clients.rounds import check_readiness

    build_strategy(settings.run, settings.expected_parties)
    schema = load_schema(settings.task_path)
    nodes = manifest.nodes()
    problems = _duplicate_nodes(nodes)
    config = round_config(settings, schema)
    with StagedPartyDataCache() as load_data:
        for node in nodes if not problems else []:
            readiness = check_readiness(node, config, load_data)
            problems += [f"{node.party}: {problem}" for problem in readiness.problems]
        if settings.consortium_test_path is not None:
            try:
                load_validated(settings.consortium_test_path, schema, model_columns_only=True)
            except FedscoreError as error:
                problems.append(f"consortium test set: {error}")
        if problems:
            raise FedscoreError(
                "the run cannot start:\n" + "\n".join(f"  - {problem}" for problem in problems)
            )
        load_data.commit()
    return dataclasses.replace(settings, parties_checked=True)


def _duplicate_nodes(nodes: list[NodeConfig]) -> list[str]:
    """Two simulated nodes that are one institution, or share one state folder."""
    problems = []
    for seen, node in enumerate(nodes):
        for other in nodes[:seen]:
            if other.party == node.party:
                problems.append(f"party '{node.party}' is given twice")
            elif other.state_dir == node.state_dir:
                problems.append(
                    f"parties '{other.party}' and '{node.party}' share the state folder "
                    f"{node.state_dir}"
                )
    return problems


def simulate(
    server_app: ServerApp,
    client_app: ClientApp,
    nodes: int,
    backend: dict[str, dict[str, ConfigRecordValues]],
    verbose: bool = False,
) -> None:
    """Run `server_app` with `nodes` simulated nodes of `client_app` in Flower's engine.

    Args:
        server_app: the coordinator's app.
        client_app: the nodes' app.
        nodes: how many simulated nodes.
        backend: the Ray settings (`simulation_backend`).
        verbose: show Flower's own log (otherwise only its errors).
    """
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
                server_app=server_app,
                client_app=client_app,
                num_supernodes=nodes,
                backend_config=backend,
                verbose_logging=verbose,
            )
    finally:
        flwr_logger.setLevel(previous_level)


def run_simulated_training(
    settings: ServerSettings, manifest: FederationManifest, verbose: bool = False
) -> Path:
    """Train one run with every institution of `manifest` as a simulated node.

    Returns the run directory; raises `FedscoreError` if an input is invalid (before
    anything is written) or the run did not finish.
    """
    backend = simulation_backend()  # a bad worker count is refused before any work
    settings = check_inputs(settings, manifest)
    simulate(
        build_server_app(settings),
        build_client_app(ManifestResolver(manifest)),
        len(manifest.node_configs),
        backend,
        verbose,
    )
    if not (settings.run_dir / "summary.json").is_file():
        raise FedscoreError(
            f"the run did not finish: {settings.run_dir} has no summary.json "
            "(see the messages above for the failing part)"
        )
    return settings.run_dir
