"""The training options `fedscore demo`, `train` and `run` share, and a run's outcome."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fedscore.core.runconfig import RunConfig

Rounds = Annotated[int, typer.Option(help="Federated rounds.")]
Epsilon = Annotated[float, typer.Option(help="Epsilon each party spends on this run.")]
Delta = Annotated[
    float | None,
    typer.Option(
        help="DP delta, the same at every party (must be < 1/N of each). Default: each "
        "party its own, the largest power of ten at most 1/(10·N) of its rows and 1e-5.",
        show_default=False,
    ),
]
Model = Annotated[str, typer.Option(help="Model: lr or mlp.")]
Strategy = Annotated[
    str,
    typer.Option(
        help="Aggregation: fedavg, fedprox, or the robust, unweighted fedmedian and "
        "fedtrimmedavg (cuts trim_beta of the updates per tail; the default 0.2 needs 5+ "
        "parties)."
    ),
]
ProximalMu = Annotated[float, typer.Option(help="FedProx proximal weight mu.")]
Private = Annotated[
    bool, typer.Option("--private/--non-private", help="DP-SGD or the non-private comparison mode.")
]
SecureAggregation = Annotated[
    bool,
    typer.Option(
        "--secure-aggregation/--no-secure-aggregation",
        help="Aggregate with SecAgg+ (the server learns only the sum of the updates); "
        "not with fedmedian / fedtrimmedavg.",
    ),
]
Verbose = Annotated[bool, typer.Option(help="Show Flower's and Ray's own logs.")]


@dataclass(frozen=True)
class TrainingOptions:
    """The training options `fedscore demo` and `train` share (see `options_of`).

    Attributes:
        rounds: federated rounds.
        model: lr or mlp.
        epsilon: the epsilon each party spends on the run.
        delta: the DP delta (None: each party's own from its rows).
        strategy: the aggregation strategy.
        proximal_mu: FedProx's proximal weight.
        private: DP-SGD (True) or the non-private comparison mode.
    """

    rounds: Rounds = 10
    model: Model = "lr"
    epsilon: Epsilon = 1.0
    delta: Delta = None
    strategy: Strategy = "fedavg"
    proximal_mu: ProximalMu = 0.0
    private: Private = True

    def run_config(self, config: Path | None, secure_aggregation: bool) -> RunConfig:
        """The run the options ask for.

        Args:
            config: a run config TOML the options override (None: the defaults).
            secure_aggregation: aggregate with SecAgg+.

        Returns:
            The run configuration.
        """
        from fedscore.core.runconfig import RunConfig

        base = RunConfig.from_toml(config) if config else RunConfig()
        # The options are RunConfig settings of the same names.
        return base.replace(**asdict(self), secure_aggregation=secure_aggregation)


def exit_unless_done(run_dir: Path) -> None:
    """Exit 1 when the run did not do what was asked (its problems were printed).

    Args:
        run_dir: the run's directory (holding summary.json).

    Raises:
        typer.Exit: the run's verdict lists problems (status 1).
    """
    import json

    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    if summary["verdict"]["problems"]:
        raise typer.Exit(code=1)
