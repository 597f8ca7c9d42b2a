"""Training speed and memory: what DP-SGD costs over non-private training.

Two measurements, each DP against non-DP with everything else equal:

* end to end: federated LR and MLP runs on the demo consortium in Flower's
  simulation engine (same RunConfig but `private`), wall time per round from
  the run directory's metrics.json, plus peak memory;
* local training alone, without Flower or Ray: `train_locally` with `DpSgd` vs
  `NoPrivacy` on the large bank's training rows, one round, repeated.

Target under test: "DP training costs at most 1.5x the time of non-private training".

Writes <out-dir>/speed.json (every measurement, machine info) and <out-dir>/speed.md.
Run with `make bench-speed`; `--quick` (2 rounds, LR only, 3 timed local rounds,
results in a temporary folder) is a smoke check. Modules: `speed_memory` (peak memory),
`speed_local` (local training alone), `speed_report` (the Markdown report).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from speed_local import micro_benchmark
from speed_memory import TreeMemorySampler, rusage_peaks
from speed_report import MAX_RATIO, TARGET_STATEMENT, mode_name, render_markdown
from support.cli import benchmark_parser, parse_benchmark_args
from support.federation import run_federated
from support.output import Session, configuration_progress

from fedscore.core.runconfig import RunConfig

MODELS = ("lr", "mlp")
QUICK = {"rounds": 2, "micro_repeats": 3}


def federated_measurement(work: Path, model: str, private: bool, rounds: int) -> dict[str, Any]:
    """One federated run; round times, run totals and the process tree's peak memory."""
    run_config = RunConfig(model=model, rounds=rounds, private=private)
    with TreeMemorySampler() as memory:
        run = run_federated(work, run_config)
    seconds = run.round_seconds
    steady = seconds[1:] or seconds
    return {
        "model": model,
        "private": private,
        "rounds": len(seconds),
        "round_seconds": seconds,
        "first_round_seconds": seconds[0],
        "steady_round_median_seconds": statistics.median(steady),
        "round_mean_seconds": statistics.fmean(seconds),
        "run_seconds": run.summary["seconds"],
        "wall_seconds": run.wall_seconds,
        "peak_rss": memory.peaks(),
        "consortium_test_auc": run.consortium_test["auc"],
        "problems": run.problems(),
    }


def summarize_federated(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (model, mode): pooled steady-state round times and medians over repeats."""
    rows = []
    for model in MODELS:
        for private in (False, True):
            mine = [r for r in runs if r["model"] == model and r["private"] == private]
            if not mine:
                continue
            steady = [s for r in mine for s in (r["round_seconds"][1:] or r["round_seconds"])]
            rows.append(
                {
                    "model": model,
                    "private": private,
                    "runs": len(mine),
                    "first_round_seconds": statistics.median(
                        r["first_round_seconds"] for r in mine
                    ),
                    "steady_round_median_seconds": statistics.median(steady),
                    "round_mean_seconds": statistics.fmean(
                        s for r in mine for s in r["round_seconds"]
                    ),
                    "run_seconds": statistics.median(r["run_seconds"] for r in mine),
                    "wall_seconds": statistics.median(r["wall_seconds"] for r in mine),
                    "peak_rss": {
                        key: _max_or_none(r["peak_rss"][key] for r in mine)
                        for key in ("driver_mib", "largest_child_mib", "tree_mib")
                    },
                }
            )
    return rows


def _max_or_none(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def ratios(federated: list[dict[str, Any]], micro: dict[str, Any]) -> list[dict[str, Any]]:
    """DP / non-DP time per model, end to end and for local training alone."""
    rows = []
    for model in MODELS:
        by_mode = {r["private"]: r for r in federated if r["model"] == model}
        row: dict[str, Any] = {
            "model": model,
            "federated_round_median": None,
            "federated_run_total": None,
            "micro_local_training": None,
        }
        if len(by_mode) == 2:
            dp, plain = by_mode[True], by_mode[False]
            row["federated_round_median"] = (
                dp["steady_round_median_seconds"] / plain["steady_round_median_seconds"]
            )
            row["federated_run_total"] = dp["run_seconds"] / plain["run_seconds"]
        if model in micro["models"]:
            row["micro_local_training"] = micro["models"][model]["ratio"]
        row["federated_met"] = _met(row["federated_round_median"])
        row["micro_met"] = _met(row["micro_local_training"])
        rows.append(row)
    return rows


def _met(ratio: float | None) -> bool | None:
    return None if ratio is None else ratio <= MAX_RATIO


def main(argv: list[str] | None = None) -> int:
    """The script (`argv`: its arguments): time DP vs non-DP, write the results."""
    parser = benchmark_parser(__doc__, "2 rounds, LR only, 3 timed local rounds")
    parser.add_argument("--rounds", type=int, default=10, help="federated rounds (default 10)")
    parser.add_argument(
        "--repeats", type=int, default=1, help="federated runs per configuration (default 1)"
    )
    parser.add_argument(
        "--micro-repeats", type=int, default=20, help="timed local rounds per mode (default 20)"
    )
    args = parse_benchmark_args(parser, argv, "speed", QUICK)
    models = MODELS[:1] if args.quick else MODELS
    if min(args.rounds, args.repeats, args.micro_repeats) < 1:
        parser.error("--rounds, --repeats and --micro-repeats must be >= 1")

    session = Session("speed", args.out_dir)
    plan = [(m, p) for _ in range(args.repeats) for m in models for p in (False, True)]
    runs: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="fedscore-bench-speed-") as tmp,
        configuration_progress() as progress,
    ):
        work = Path(tmp)
        task = progress.add_task("federated", total=len(plan) + 1)
        for index, (model, private) in enumerate(plan):
            progress.update(task, description=f"federated {model.upper()}, {mode_name(private)}")
            runs.append(federated_measurement(work / f"run{index}", model, private, args.rounds))
            progress.advance(task)
        after_federated = rusage_peaks()
        progress.update(task, description="local training micro-benchmark")
        micro = micro_benchmark(work / "micro", args.micro_repeats, models)
        progress.advance(task)
        progress.update(task, description="done")
    federated = summarize_federated(runs)
    problems = [
        f"federated {r['model']} {mode_name(r['private'])}: {p}"
        for r in runs
        for p in r["problems"]
    ]
    result: dict[str, Any] = {
        "benchmark": "speed",
        "rounds": args.rounds,
        "repeats": args.repeats,
        "target": {"statement": TARGET_STATEMENT, "max_ratio": MAX_RATIO},
        "federated_runs": runs,
        "federated": federated,
        "micro": micro,
        "ratios": ratios(federated, micro),
        "memory": {
            "after_federated": after_federated,
            "end": rusage_peaks(),
            "note": (
                "self: ru_maxrss of this (driver) process, which runs the ServerApp; "
                "children: largest ru_maxrss among terminated, reaped descendants (Ray "
                "processes, the ClientApps' workers among them), which on Linux includes the "
                "driver's high-water mark inherited at fork/exec; federated_runs[].peak_rss: "
                "sampled peaks of the driver, the largest descendant and the tree's sum"
            ),
        },
        "problems": problems,
    }
    return session.finish(result, render_markdown, with_load=True)


if __name__ == "__main__":
    sys.exit(main())
