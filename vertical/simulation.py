"""A vertical run in Flower's simulation engine: the two parties as simulated nodes.

The nodes answer with the same handler as deployed ones (`node_app`), from their own
config files; the coordinator is the same relay (`relay`). Only which config each
simulated node plays is decided here: node 0 the first config given, node 1 the second.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from fedscore.core.owner_request import DEFAULT_VERTICAL_TIMEOUT
from fedscore.core.run_request import SignedRunRequest
from fedscore.simulation import simulate, simulation_backend
from fedscore.vertical.node_app import build_vertical_client_app
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.relay import RelaySettings, run_vertical
from fedscore.vertical.summary import read_summary


class _PartitionResolver:
    """Simulated node i plays config i (picklable, as Ray ships the ClientApp)."""

    def __init__(self, configs: tuple[VerticalNodeConfig, ...]) -> None:
        self.configs = configs

    def __call__(self, context: Context) -> VerticalNodeConfig:
        return self.configs[int(context.node_config["partition-id"])]


def run_vertical_simulation(
    signed: SignedRunRequest,
    node_configs: tuple[Path, Path],
    runs_dir: Path,
    timeout: float = DEFAULT_VERTICAL_TIMEOUT,
    verbose: bool = False,
    on_step: Callable[[int, int], None] | None = None,
) -> Path:
    """Run one vertical run with both parties simulated; returns the run directory.

    Args:
        signed: the model owner's signed run request carrying the vertical terms.
        node_configs: the two parties' `vertical.toml` files.
        runs_dir: where the coordinator writes the run directory.
        timeout: seconds to wait for each reply.
        verbose: show Flower's own log.
        on_step: called after each training step with (steps done, steps in all).

    Raises:
        FedscoreError: a config is invalid, or the run did not finish (the summary's
            error says why: a party declined, failed, or the parties disagreed).
    """
    configs = tuple(VerticalNodeConfig.from_toml(path) for path in node_configs)
    settings = RelaySettings(signed, runs_dir, timeout, on_step)
    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        run_vertical(grid, settings)

    client_app = build_vertical_client_app(_PartitionResolver(configs))
    simulate(server_app, client_app, 2, simulation_backend(), verbose)
    run_dir = runs_dir / signed.request.run_id
    read_summary(run_dir)
    return run_dir
