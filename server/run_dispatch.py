"""Which run the coordinator's deployed ServerApp starts: a training run or a vertical one.

The ServerApp (`server.app:app`) starts with the run config `flwr run` submitted. A model
owner's signed request for the "vertical" task starts a vertical run: the coordinator
relays sealed messages between its two parties (`vertical/relay.py`), writing the run's
record under the request's `coordinator.runs_dir`. Anything else is a training run of the
round loop (`training_loop.py`).

Who may start either is checked before the ServerApp starts, the same way for both:
fedscore's task runner (`deployment/task_runner.py`) runs it only for an app release the
coordinator approved, and a request signed by a model owner the coordinator lists, within
its validity window, naming exactly that release. Each party checks the request again
against its own lists before it takes part.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flwr.serverapp import Grid

from fedscore.core.errors import ConfigError
from fedscore.core.run_request import RUN_REQUEST_KEY, SignedRunRequest
from fedscore.server.settings import DEFAULT_RUNS_DIR, RESUME_KEY, ServerSettings, truthy
from fedscore.server.training_loop import run_training
from fedscore.vertical.relay import RelaySettings, run_vertical
from fedscore.vertical.request import VERTICAL_TASK


def run_from_flower(grid: Grid, run_config: Mapping[str, object]) -> None:
    """Run what `run_config` asks for: the vertical run its request names, else training.

    Args:
        grid: the ServerApp's grid.
        run_config: Flower's run config of the run (with fedscore's signed request).

    Raises:
        ConfigError: the run config or the request is invalid, or asks to resume a
            vertical run.
        FedscoreError: the run failed (a vertical run's record says why).
    """
    signed = vertical_request(run_config)
    if signed is None:
        run_training(grid, ServerSettings.from_flower(dict(run_config)))
        return
    run_vertical(grid, relay_settings(signed))


def vertical_request(run_config: Mapping[str, object]) -> SignedRunRequest | None:
    """The signed request in `run_config` if it is one for a vertical run, else None.

    Args:
        run_config: Flower's run config of the run.

    Raises:
        ConfigError: the request is malformed, or a vertical run is asked to resume (a
            vertical run cannot be: its channel keys and PSI secrets are gone; start a new
            one).
    """
    text = str(run_config.get(RUN_REQUEST_KEY, "") or "")
    if not text:
        return None
    signed = SignedRunRequest.decode(text)
    if signed.request.task != VERTICAL_TASK:
        return None
    if truthy(run_config.get(RESUME_KEY)):
        raise ConfigError(
            f"vertical run {signed.request.run_id} cannot be resumed: start a new run"
        )
    return signed


def relay_settings(signed: SignedRunRequest) -> RelaySettings:
    """How the coordinator relays the vertical run `signed` asks for.

    The run's folder goes under the request's `coordinator.runs_dir`; the coordinator
    waits `coordinator.round_timeout` seconds for the parties to connect and for each
    reply, and logs every training step (the model owner's `flwr run --stream`).

    Args:
        signed: the model owner's signed request of a vertical run.
    """
    options = signed.request.coordinator
    run_id = signed.request.run_id

    def log_step(done: int, total: int) -> None:
        print(f"vertical run {run_id}: training step {done} of {total}", flush=True)

    runs_dir = Path(options.runs_dir or DEFAULT_RUNS_DIR).resolve()
    return RelaySettings(signed, runs_dir, options.round_timeout, on_step=log_step)
