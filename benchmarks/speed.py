"""Training speed and memory: what DP-SGD costs over non-private training.

Two measurements, each DP against non-DP with everything else equal:

* end to end: federated LR and MLP runs on the demo consortium in Flower's
  simulation engine (same RunConfig but `private`), wall time per round from
  the run directory's metrics.json, plus peak memory;
* local training alone, without Flower or Ray: `train_locally` with `DpSgd` vs
  `NoPrivacy` on the large bank's training rows, one round, repeated.

Target under test: "DP training costs at most 1.5x the time of non-private training".

Writes <out-dir>/speed.json (every measurement, machine info) and <out-dir>/speed.md.
Run with `make bench-speed`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from _common import (
    RESULTS_DIR,
    configuration_progress,
    console,
    fmt,
    machine_info,
    machine_line,
    markdown_table,
    run_federated,
    write_results,
)

from fedscore.clients.local_data import PartyData, load_party_data
from fedscore.clients.node import NodeConfig
from fedscore.clients.training import LocalSchedule, train_locally
from fedscore.core.models import ModelSpec, build_model
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import TaskSchema, load_schema
from fedscore.demo import prepare_demo
from fedscore.privacy.accounting import PartyAccountant, calibrate_noise
from fedscore.privacy.dp_sgd import DpSgd, LocalPrivacy, MechanismParams, NoPrivacy

MODELS = ("lr", "mlp")
MICRO_PARTY = "large_bank"
MAX_RATIO = 1.5
TARGET_STATEMENT = "DP training costs at most 1.5x the time of non-private training"
MIB = 2**20

try:
    import psutil  # installed with Ray (flwr[simulation])
except ImportError:  # pragma: no cover - psutil comes with ray
    psutil = None


def _mode(private: bool) -> str:
    return "DP" if private else "non-DP"


class TreeMemorySampler:
    """Samples the RSS of this process and of all its descendants while active.

    In simulation the ServerApp runs in this (driver) process and every ClientApp in
    a Ray worker process below it (Ray's raylet and GCS are descendants too). Peaks
    kept: the driver's RSS, the largest single descendant's RSS (with its name) and
    the sum over the whole tree, in which shared pages (torch's libraries) count once
    per process, so the sum overstates physical memory.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.driver_bytes = 0
        self.largest_child_bytes = 0
        self.largest_child_name = ""
        self.tree_bytes = 0
        self.tree_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        assert psutil is not None
        me = psutil.Process()
        while not self._stop.is_set():
            driver = me.memory_info().rss
            total, count = driver, 1
            for child in me.children(recursive=True):
                try:
                    rss, name = child.memory_info().rss, child.name()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total, count = total + rss, count + 1
                if rss > self.largest_child_bytes:
                    self.largest_child_bytes, self.largest_child_name = rss, name
            self.driver_bytes = max(self.driver_bytes, driver)
            if total > self.tree_bytes:
                self.tree_bytes, self.tree_processes = total, count
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemorySampler:
        if psutil is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def peaks(self) -> dict[str, Any]:
        """Peak RSS in MiB (None without psutil)."""
        if psutil is None:
            return {"driver_mib": None, "largest_child_mib": None, "tree_mib": None}
        return {
            "driver_mib": self.driver_bytes / MIB,
            "largest_child_mib": self.largest_child_bytes / MIB,
            "largest_child_name": self.largest_child_name,
            "tree_mib": self.tree_bytes / MIB,
            "tree_processes": self.tree_processes,
        }


def rusage_peaks() -> dict[str, float]:
    """Peak RSS (MiB) from getrusage; Linux reports ru_maxrss in KiB."""
    return {
        "self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


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


def _privacy(private: bool, mechanism: MechanismParams) -> LocalPrivacy:
    return DpSgd(mechanism, PartyAccountant()) if private else NoPrivacy(PartyAccountant())


def _timed_round(
    data: PartyData, run: RunConfig, schedule: LocalSchedule, privacy: LocalPrivacy, seed: int
) -> float:
    model = build_model(ModelSpec(run.model, data.train_x.shape[1], run.hidden, run.seed))
    sampling = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    train_locally(model, data.train_x, data.train_y, run, schedule, privacy, sampling)
    return time.perf_counter() - started


def _median_seconds(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def time_local_training(data: PartyData, model: str, repeats: int, warmup: int) -> dict[str, Any]:
    """One round of `train_locally`, DP vs non-DP, interleaved; medians and their ratio."""
    run = RunConfig(model=model)
    schedule = LocalSchedule.for_party(run, len(data.train_y))
    mechanism = schedule.calibrated_mechanism(run)
    times: dict[bool, list[float]] = {False: [], True: []}
    for index in range(warmup + repeats):
        # Alternate which mode goes first, so drift hits both alike.
        for private in (index % 2 == 0, index % 2 == 1):
            seconds = _timed_round(data, run, schedule, _privacy(private, mechanism), seed=index)
            if index >= warmup:
                times[private].append(seconds)
    medians = {p: statistics.median(t) for p, t in times.items()}
    return {
        "steps_per_round": schedule.steps_per_round,
        "expected_batch_size": schedule.expected_batch_size,
        "noise_multiplier": mechanism.noise_multiplier,
        "seconds": {_mode(p): t for p, t in times.items()},
        "median_seconds": {_mode(p): m for p, m in medians.items()},
        "min_seconds": {_mode(p): min(t) for p, t in times.items()},
        "max_seconds": {_mode(p): max(t) for p, t in times.items()},
        "ratio": medians[True] / medians[False],
    }


def time_round_overheads(node: NodeConfig, schema: TaskSchema, data: PartyData) -> dict[str, float]:
    """Median seconds of a node's per-round work outside `train_locally` (default run)."""
    run = RunConfig()
    schedule = LocalSchedule.for_party(run, len(data.train_y))
    steps = run.rounds * schedule.steps_per_round

    def calibrate() -> float:
        return calibrate_noise(run.epsilon, run.delta, schedule.sample_rate, steps, run.accountant)

    accountant = PartyAccountant()
    accountant.step(calibrate(), schedule.sample_rate, steps)
    return {
        "calibrate_noise_seconds": _median_seconds(calibrate, 3),
        "epsilon_report_seconds": _median_seconds(lambda: accountant.report(run.delta), 5),
        "load_party_data_seconds": _median_seconds(lambda: load_party_data(node, schema), 5),
    }


def micro_benchmark(work: Path, repeats: int, warmup: int = 2) -> dict[str, Any]:
    """Local training without Flower or Ray on one party's rows, one thread like a node.

    Times `train_locally` DP vs non-DP per model, plus what a DP round costs outside
    it (noise calibration at a run's first round, the epsilon report after every
    round) and what both modes pay to load the table (read, validate, de-identify,
    encode; cached by the ClientApp across rounds).
    """
    federation = prepare_demo(work)
    config = next(p for p in federation.manifest.node_configs if p.parent.name == MICRO_PARTY)
    node = NodeConfig.from_toml(config)
    schema = load_schema(node.task_path)
    data = load_party_data(node, schema)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what the ClientApp does at every node
    try:
        with warnings.catch_warnings():
            # Opacus' PRV accountant sizes its domain with an RDP bound at a tiny delta and
            # warns that its largest order is optimal there; the epsilon is unaffected.
            warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
            models = {m: time_local_training(data, m, repeats, warmup) for m in MODELS}
            overheads = time_round_overheads(node, schema, data)
    finally:
        torch.set_num_threads(threads)
    return {
        "party": MICRO_PARTY,
        "train_rows": len(data.train_y),
        "features": int(data.train_x.shape[1]),
        "repeats": repeats,
        "warmup": warmup,
        "torch_threads": 1,
        "models": models,
        "overheads": overheads,
    }


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


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "—"}[met]


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _largest_names(runs: list[dict[str, Any]]) -> str:
    names = sorted({r["peak_rss"].get("largest_child_name") or "?" for r in runs})
    return ", ".join(f"`{n}`" for n in names)


def render_markdown(result: dict[str, Any]) -> str:
    """The short report: round times, DP/non-DP ratios against the target, memory."""
    model_name = {"lr": "LR", "mlp": "MLP"}
    rounds = result["rounds"]
    federated = markdown_table(
        [
            "configuration",
            "round 1 (s)",
            f"median round 2–{rounds} (s)" if rounds > 1 else "median round (s)",
            "mean round (s)",
            "run total (s)",
            "wall incl. Ray start/stop (s)",
            "peak RSS driver (MiB)",
            "peak RSS largest Ray process (MiB)",
            "peak RSS tree sum (MiB)",
        ],
        [
            [
                f"federated {model_name[r['model']]}, {_mode(r['private'])}",
                fmt(r["first_round_seconds"], 2),
                fmt(r["steady_round_median_seconds"], 3),
                fmt(r["round_mean_seconds"], 3),
                fmt(r["run_seconds"], 1),
                fmt(r["wall_seconds"], 1),
                fmt(r["peak_rss"]["driver_mib"], 0),
                fmt(r["peak_rss"]["largest_child_mib"], 0),
                fmt(r["peak_rss"]["tree_mib"], 0),
            ]
            for r in result["federated"]
        ],
    )
    micro = result["micro"]
    micro_table = markdown_table(
        ["model", "steps", "non-DP median (s)", "DP median (s)", "DP / non-DP"],
        [
            [
                model_name[model],
                str(m["steps_per_round"]),
                fmt(m["median_seconds"]["non-DP"], 4),
                fmt(m["median_seconds"]["DP"], 4),
                _ratio(m["ratio"]),
            ]
            for model, m in micro["models"].items()
        ],
    )
    ratio_table = markdown_table(
        [
            "model",
            "federated, per round (median)",
            "federated, run total",
            "local training only",
            "target, federated",
            "target, local training",
        ],
        [
            [
                model_name[r["model"]],
                _ratio(r["federated_round_median"]),
                _ratio(r["federated_run_total"]),
                _ratio(r["micro_local_training"]),
                _verdict(r["federated_met"]),
                _verdict(r["micro_met"]),
            ]
            for r in result["ratios"]
        ],
    )
    memory, overheads = result["memory"], micro["overheads"]
    lines = [
        "# Speed: DP-SGD vs non-private training",
        "",
        f"## Federated, {rounds} rounds, 3 simulated institutions ({result['repeats']} run(s) "
        "per configuration)",
        "",
        "Round time is the server's wall time per round (train + aggregate + federated "
        "evaluation + consortium test), from metrics.json; round 1 includes starting the "
        "Ray workers, so the median is over the later rounds.",
        "",
        federated,
        "",
        f"## Local training only ({micro['party']}, {micro['train_rows']} rows, one round, "
        f"median of {micro['repeats']}, 1 torch thread, no Flower/Ray)",
        "",
        micro_table,
        "",
        "Outside `train_locally`, a DP round also pays for the epsilon report "
        f"({fmt(overheads['epsilon_report_seconds'], 3)} s per round, RDP + PRV) and, at "
        f"round 1, noise calibration ({fmt(overheads['calibrate_noise_seconds'], 3)} s). Both "
        "modes read, validate, de-identify (PII scan, consent, pseudonyms, k-anonymity) and "
        f"encode the node's table ({fmt(overheads['load_party_data_seconds'], 3)} s): once "
        "per party before the run (the simulation's input check) and once per ClientApp "
        "process and party, cached across rounds until an input or the date changes.",
        "",
        f"## DP / non-DP time ratio — target: {TARGET_STATEMENT}",
        "",
        ratio_table,
        "",
        "## Peak memory",
        "",
        "Per run, sampled every 0.2 s with psutil (first table): the driver process (it "
        "runs the ServerApp: round loop, aggregation, consortium-test evaluation), the "
        "largest single descendant (Ray's raylet, GCS and the worker processes that run "
        "the ClientApps), and the sum over the whole tree (shared pages counted once per "
        "process, so the sum overstates physical memory). Largest descendant seen: "
        f"{_largest_names(result['federated_runs'])}. From getrusage over the whole benchmark:",
        "",
        f"- RUSAGE_SELF ru_maxrss (driver process): "
        f"{fmt(memory['after_federated']['self_mib'], 0)} MiB after the federated runs, "
        f"{fmt(memory['end']['self_mib'], 0)} MiB at the end.",
        f"- RUSAGE_CHILDREN ru_maxrss (largest terminated, reaped descendant, i.e. Ray's "
        f"processes): {fmt(memory['after_federated']['children_mib'], 0)} MiB. Linux carries "
        "a parent's high-water mark into a child started by fork/vfork + exec, so this is at "
        "least the driver's RSS when Ray started and does not isolate the ClientApps; the "
        "sampled per-process peaks do.",
        "",
        machine_line(result["machine"]),
        f"Total runtime: {result['total_seconds']:.0f} s. Load average (1 min) at start "
        f"{result['load_average_at_start'][0]:.2f}, at end "
        f"{result['machine']['load_average_1_5_15min'][0]:.2f}: timings are only meaningful "
        "on an otherwise idle machine.",
    ]
    if result["problems"]:
        lines[-2:-2] = ["**Problems:**", *(f"- {p}" for p in result["problems"]), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="federated rounds (default 10)")
    parser.add_argument(
        "--repeats", type=int, default=1, help="federated runs per configuration (default 1)"
    )
    parser.add_argument(
        "--micro-repeats", type=int, default=20, help="timed local rounds per mode (default 20)"
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where results go")
    args = parser.parse_args(argv)
    if min(args.rounds, args.repeats, args.micro_repeats) < 1:
        parser.error("--rounds, --repeats and --micro-repeats must be >= 1")

    started = time.perf_counter()
    load_at_start = list(os.getloadavg())
    plan = [(m, p) for _ in range(args.repeats) for m in MODELS for p in (False, True)]
    runs: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="fedscore-bench-speed-") as tmp,
        configuration_progress() as progress,
    ):
        work = Path(tmp)
        task = progress.add_task("federated", total=len(plan) + 1)
        for index, (model, private) in enumerate(plan):
            progress.update(task, description=f"federated {model.upper()}, {_mode(private)}")
            runs.append(federated_measurement(work / f"run{index}", model, private, args.rounds))
            progress.advance(task)
        after_federated = rusage_peaks()
        progress.update(task, description="local training micro-benchmark")
        micro = micro_benchmark(work / "micro", args.micro_repeats)
        progress.advance(task)
        progress.update(task, description="done")
    federated = summarize_federated(runs)
    problems = [
        f"federated {r['model']} {_mode(r['private'])}: {p}" for r in runs for p in r["problems"]
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
        "load_average_at_start": load_at_start,
        "machine": machine_info(),
        "total_seconds": time.perf_counter() - started,
    }
    markdown = render_markdown(result)
    for path in write_results(args.out_dir, "speed", result, markdown):
        console.print(f"wrote {path}")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
