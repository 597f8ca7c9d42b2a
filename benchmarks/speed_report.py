"""The speed benchmark's report: round times, DP / non-DP ratios against the target, memory."""

from __future__ import annotations

from typing import Any

from support.machine import machine_line
from support.output import fmt, markdown_table, problem_lines

MAX_RATIO = 1.5
TARGET_STATEMENT = "DP training costs at most 1.5x the time of non-private training"


def mode_name(private: bool) -> str:
    """How results name a training mode: "DP" or "non-DP"."""
    return "DP" if private else "non-DP"


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
                f"federated {model_name[r['model']]}, {mode_name(r['private'])}",
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
    lines[-2:-2] = problem_lines(result["problems"])
    return "\n".join(lines)
