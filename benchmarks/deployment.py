"""A real deployment against Flower's simulation: round time and bytes on the wire.

Two runs of the same run config (default: LR, 5 rounds, DP-SGD at epsilon 1) on the
demo consortium's three institutions, each in its own freshly prepared directory
(the deployment's gets the simulation's pseudonymization keys, so both train on the
same rows):

* simulation: `run_simulated_training` (Flower's simulation engine, Ray), as
  benchmarks/speed.py runs it;
* deployment: a real SuperLink (`fedscore server start`: TLS, SuperNode
  authentication, node registration) and one SuperNode per institution
  (`fedscore node start`), all on 127.0.0.1 on free ports, and the run started by
  the model owner with `fedscore run`. Every SuperNode reaches the SuperLink through
  its own TCP forwarding proxy in this process, which counts the bytes in each
  direction; TLS passes through untouched (the SuperLink certificate's SAN is
  127.0.0.1, so the nodes still verify it and authenticate with their keys).

Round time is the ServerApp's wall time per round (train + aggregate + federated
evaluation + consortium test), from the run directory's metrics.json; process
start-up (Ray, SuperLink, SuperNodes, the ServerApp) is reported apart. Bytes per
round come from snapshots of the proxies' counters at each round's end (the
benchmark watches metrics.json grow). Before the run, an idle window measures what
connected SuperNodes cost with no run at all.

The deployment runs twice on the same running consortium (same SuperLink and
SuperNodes, a new run each): secure aggregation off, then on (Flower's SecAgg+,
`fedscore run`'s default), which gives SecAgg+'s cost in round time and bytes.

Writes <out-dir>/deployment.json (every measurement, machine info) and
<out-dir>/deployment.md. Run with `make bench-deployment`; `--quick` (2 rounds, a 2 s
idle window, results in a temporary folder) is a smoke check. Modules: `deployment_run`
(the consortium in processes), `deployment_traffic` (a run's results),
`deployment_report` (the Markdown report), `trust_overhead` (the trust boundary's cost).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from deployment_report import render_markdown, secagg_ratios
from deployment_run import deployment_measurement
from support.cli import benchmark_parser, parse_benchmark_args
from support.federation import FederatedRun, round_statistics, run_federated
from support.output import Session, configuration_progress, console
from support.processes import BenchmarkError, machine_busy_cpu

from fedscore.core.runconfig import RunConfig
from fedscore.deployment.executor import DEFAULT_POLL_INTERVAL as EXECUTOR_POLL_SECONDS
from fedscore.deployment.supernode_process import (
    BUSY_IDLE_POLL_SECONDS,
    IDLE_POLL_SECONDS,
    REPLY_POLL_SECONDS,
)
from fedscore.server.polling_grid import DEFAULT_INTERVAL as GRID_POLL_SECONDS

#: The waits on a deployed round's path (seconds): Flower 1.42's own (from its source) and
#: what fedscore's processes use instead.
POLLING = {
    "supernode_pull_when_idle": {"flower": 3.0, "fedscore": IDLE_POLL_SECONDS},
    "supernode_pull_in_a_run": {"flower": 3.0, "fedscore": BUSY_IDLE_POLL_SECONDS},
    "supernode_reply_wait": {"flower": 0.5, "fedscore": REPLY_POLL_SECONDS},
    "serverapp_grid_pull": {"flower": 3.0, "fedscore": GRID_POLL_SECONDS},
    "executor_task_poll": {"flower": 1.0, "fedscore": EXECUTOR_POLL_SECONDS},
}
QUICK = {"rounds": 2, "idle_seconds": 2.0}


def simulation_measurement(work: Path, run: RunConfig) -> tuple[dict[str, Any], FederatedRun]:
    """The simulated run: round times, and everything outside the rounds.

    Args:
        work: an empty folder for the demo consortium.
        run: the run configuration.

    Returns:
        The results as deployment.json holds them, and the run.
    """
    busy, started = machine_busy_cpu(), time.perf_counter()
    federated = run_federated(work, run)
    busy, window = machine_busy_cpu() - busy, time.perf_counter() - started
    seconds = federated.round_seconds
    return {
        "round_seconds": seconds,
        **round_statistics(seconds),
        "wall_seconds": federated.wall_seconds,
        "machine_busy_cpu_seconds": busy,
        "measured_window_seconds": window,
        "outside_rounds_seconds": federated.wall_seconds - sum(seconds),
        "consortium_test_auc": federated.consortium_test["auc"],
        "problems": federated.problems(),
    }, federated


def fab_bytes() -> int | None:
    """Size of the FAB `fedscore run` builds from this checkout (nodes download it)."""
    try:
        from flwr.cli.build import build_fab_from_disk

        from fedscore.deployment.runs import app_project_dir

        return len(build_fab_from_disk(app_project_dir()))
    except Exception:  # an informative extra only
        return None


def main(argv: list[str] | None = None) -> int:
    """The script (`argv`: its arguments; exit status 1: the deployment failed)."""
    parser = benchmark_parser(__doc__, "2 rounds and a 2 s idle window")
    parser.add_argument("--rounds", type=int, default=5, help="federated rounds (default 5)")
    parser.add_argument("--epsilon", type=float, default=1.0, help="epsilon (default 1)")
    parser.add_argument("--model", choices=("lr", "mlp"), default="lr", help="model (lr)")
    parser.add_argument(
        "--idle-seconds", type=float, default=15.0, help="idle window before the run (15)"
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds the deployed run may take (900)"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="work here and keep it (logs, run dirs)"
    )
    args = parse_benchmark_args(parser, argv, "deployment", QUICK)
    if args.rounds < 1 or args.epsilon <= 0 or args.idle_seconds <= 0:
        parser.error("--rounds, --epsilon and --idle-seconds must be positive")

    session = Session("deployment", args.out_dir)
    run = RunConfig(model=args.model, rounds=args.rounds, epsilon=args.epsilon, private=True)
    with contextlib.ExitStack() as stack:
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            work = args.keep.resolve()
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fedscore-dep-")))
        progress = stack.enter_context(configuration_progress())
        task = progress.add_task("simulation", total=3)

        def say(text: str) -> None:
            progress.update(task, description=text)

        say(f"simulation: {args.rounds} rounds (Ray)")
        simulation, _ = simulation_measurement(work / "simulation", run)
        progress.advance(task)
        try:
            deployment, _ = deployment_measurement(
                work / "deployment",
                run,
                work / "simulation",
                args.idle_seconds,
                args.timeout,
                say,
            )
        except BenchmarkError as error:
            console.print(f"deployment failed: {error}", markup=False)
            return 1
        progress.advance(task)
        say("measuring the FAB")
        fab = fab_bytes()
        progress.advance(task)
        say("done")
    problems = [f"simulation: {p}" for p in simulation["problems"]]
    problems += [f"deployment: {p}" for p in deployment["problems"]]
    result: dict[str, Any] = {
        "benchmark": "deployment",
        "run_config": {
            "model": run.model,
            "rounds": run.rounds,
            "private": run.private,
            "epsilon": run.epsilon,
            "delta": run.delta if run.delta is not None else "per party: at most 1/(10·N)",
            "parties": 3,
        },
        "simulation": simulation,
        "deployment": deployment,
        "ratios": {
            "steady_round_median": deployment["steady_round_median_seconds"]
            / simulation["steady_round_median_seconds"],
            "round_mean": deployment["round_mean_seconds"] / simulation["round_mean_seconds"],
            "rounds_total": deployment["rounds_total_seconds"] / simulation["rounds_total_seconds"],
        },
        "secure_aggregation": secagg_ratios(deployment),
        "fab_bytes": fab,
        "polling_seconds": POLLING,
        "problems": problems,
    }
    return session.finish(result, render_markdown, with_load=True)


if __name__ == "__main__":
    sys.exit(main())
