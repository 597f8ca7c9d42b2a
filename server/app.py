"""The Flower ServerApp of the consortium's coordinator.

`app` reads its settings from Flower's run config (`flwr run`, deployment): a training
run, or the vertical run a signed vertical request asks for (`run_dispatch`);
`build_server_app(settings)` binds a training run's settings directly (simulation from
the CLI). Training runs go through the same round loop either way.
"""

from __future__ import annotations

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from fedscore.server.run_dispatch import run_from_flower
from fedscore.server.settings import ServerSettings
from fedscore.server.training_loop import run_training


def build_server_app(settings: ServerSettings | None = None) -> ServerApp:
    """A ServerApp running `settings`, or what the run config it is started with asks if None."""
    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        if settings is not None:
            run_training(grid, settings)
        else:
            run_from_flower(grid, dict(context.run_config))

    return server_app


app = build_server_app()
