"""One deployed run's results from what was watched: round times, bytes, CPU.

The deployment benchmark snapshots the proxies' byte counters every 0.1 s while the
run's metrics.json grows; the bytes of a round are the difference of the snapshots at
its start and its end.
"""

from __future__ import annotations

import itertools
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.consortium import Consortium
from support.federation import FederatedRun, round_statistics


@dataclass
class MeasuredRun:
    """One `fedscore run` of the deployment: where it wrote, what was watched, its CPU.

    Attributes:
        runs_dir: the folder of the run's directory.
        observed: what `owner_run` watched (counter snapshots, round times, end).
        cpu: CPU seconds per process kind during the run (`Processes.cpu_between`).
        own_cpu: CPU seconds of the benchmark process itself.
        machine_busy: busy CPU seconds of the whole machine.
    """

    runs_dir: Path
    observed: dict[str, Any]
    cpu: dict[str, Any]
    own_cpu: float
    machine_busy: float


def difference(a: dict[str, dict[str, int]], b: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Bytes each way and TCP connections opened between two counter snapshots."""
    return {p: {k: b[p][k] - a[p][k] for k in ("sent", "received", "connections")} for p in b}


def _at(series: list[tuple[float, dict[str, dict[str, int]]]], moment: float) -> dict[str, Any]:
    """The last counter snapshot taken at or before `moment`."""
    chosen = series[0][1]
    for taken, snapshot in series:
        if taken > moment:
            break
        chosen = snapshot
    return chosen


def read_rounds(runs_dir: Path) -> tuple[Path | None, list[dict[str, Any]]]:
    """The run directory under `runs_dir` (one run per folder) and its rounds so far."""
    run_dirs = [p for p in runs_dir.iterdir() if p.is_dir()] if runs_dir.is_dir() else []
    if not run_dirs:
        return None, []
    run_dir = run_dirs[0]
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return run_dir, []
    return run_dir, metrics.get("rounds", [])


def run_result(
    consortium: Consortium,
    measured: MeasuredRun,
    idle: dict[str, Any],
    idle_elapsed: float,
    connect_bytes: dict[str, Any],
    runs_on_same_data: int,
) -> tuple[dict[str, Any], FederatedRun]:
    """Round times, bytes per party and CPU of one deployed run.

    Args:
        consortium: the running consortium.
        measured: the run as watched.
        idle: bytes per party during the idle window before the runs.
        idle_elapsed: that window's seconds.
        connect_bytes: counters once the SuperNodes had connected.
        runs_on_same_data: this run's number on the consortium (the parties' epsilon
            is cumulative over the runs on the same data).

    Returns:
        The run's results as deployment.json holds them, and the run itself.
    """
    observed = measured.observed
    run_dir, _ = read_rounds(measured.runs_dir)
    assert run_dir is not None
    federated = FederatedRun.read(run_dir, observed["ended"])
    summary, seconds = federated.summary, federated.round_seconds

    series, round_seen = observed["series"], observed["round_seen"]
    first_round_start = round_seen[0] - seconds[0]
    boundaries = [first_round_start, *round_seen]
    per_round = [
        difference(_at(series, a), _at(series, b)) for a, b in itertools.pairwise(boundaries)
    ]
    before = difference(series[0][1], _at(series, first_round_start))
    after = difference(_at(series, round_seen[-1]), series[-1][1])
    total = difference(series[0][1], series[-1][1])
    rounds = len(seconds)
    parties: dict[str, Any] = {}
    for party in consortium.nodes:
        steady = per_round[1:] or per_round
        parties[party] = {
            "per_round": [r[party] for r in per_round],
            "steady_round_median": {
                k: statistics.median(r[party][k] for r in steady)
                for k in ("sent", "received", "connections")
            },
            "run_total": total[party],
            "run_total_per_round": {k: total[party][k] / rounds for k in ("sent", "received")},
            "before_round_1": before[party],
            "after_last_round": after[party],
            "connect": connect_bytes[party],
            "idle_per_second": {k: v / idle_elapsed for k, v in idle[party].items()},
            "tcp_connections_total": series[-1][1][party]["connections"],
        }
    cpu = measured.cpu
    return {
        "round_seconds": seconds,
        **round_statistics(seconds),
        "first_round_start": first_round_start,
        "run_wall_seconds": observed["ended"],
        "idle_window_seconds": idle_elapsed,
        "bytes": parties,
        "cpu_during_run": {
            "by_process_kind": cpu,
            "benchmark_process_seconds": measured.own_cpu,
            "machine_busy_seconds": measured.machine_busy,
            "other_work_seconds": measured.machine_busy
            - measured.own_cpu
            - sum(c["cpu_seconds"] for c in cpu.values()),
            "note": (
                "user + system CPU seconds of every process of the deployment between the "
                "run's launch and its end, sampled every 0.25 s (a process's last 0.25 s "
                "may be missed); 'started' counts processes first seen in that window; "
                "benchmark_process_seconds: this process (the byte-counting proxies and "
                "the samplers); machine_busy_seconds: every core's busy time (psutil "
                "cpu_times); other_work_seconds: what is left of it, i.e. other work on "
                "the machine (approximate)"
            ),
        },
        "consortium_test_auc": summary["consortium_test"]["auc"],
        "problems": federated.problems(runs_on_same_data),
    }, federated
