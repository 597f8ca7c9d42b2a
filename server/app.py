"""The Flower ServerApp of the consortium's coordinator.

`app` reads its settings from Flower's run config (`flwr run`, deployment);
`build_server_app(settings)` binds them directly (simulation from the CLI).
Both run the same round loop.
"""

from __future__ import annotations

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from fedscore.server.settings import ServerSettings
from fedscore.server.training_loop import run_training


def build_server_app(settings: ServerSettings | None = None) -> ServerApp:
    """A ServerApp running `settings`, or the run config it is started with if None."""
    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        run_training(grid, settings or ServerSettings.from_flower(dict(context.run_config)))

    return server_app


app = build_server_app()
