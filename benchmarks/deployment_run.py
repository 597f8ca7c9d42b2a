"""The deployed consortium in processes: start it, measure an idle window, run twice, stop.

`fedscore server start` and three `fedscore node start` on 127.0.0.1, each SuperNode
through its own byte-counting proxy; then `fedscore run` with SecAgg+ off and on, and
the trust boundary's checks timed on the running consortium (`trust_overhead`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trust_overhead
from deployment_phases import round_breakdown, task_phases
from deployment_traffic import MeasuredRun, difference, read_rounds, run_result
from support.consortium import Consortium, prepare_consortium
from support.federation import FederatedRun
from support.processes import (
    BenchmarkError,
    Processes,
    machine_busy_cpu,
    tail,
    wait_for_text,
)
from support.proxy import ByteCountingProxy

from fedscore.core.runconfig import RunConfig

START_TIMEOUT_S = 180.0
PLAIN, SECAGG = "plain", "secagg"
#: Training messages a party answers per SecAgg+ round: setup, share keys, collect masked
#: vectors (it trains), unmask.
SECAGG_EXCHANGES = 4


def owner_run(
    consortium: Consortium,
    processes: Processes,
    proxy: ByteCountingProxy,
    run: RunConfig,
    timeout: float,
    runs_dir: Path,
    secure_aggregation: bool,
) -> dict[str, Any]:
    """`fedscore run` against the running consortium, watched every 0.1 s.

    Args:
        consortium: the running consortium.
        processes: where the owner's process is started and tracked.
        proxy: the byte counters snapshotted while the run goes.
        run: the run configuration.
        timeout: the most seconds the run may take.
        runs_dir: where the run directory is written (one run per folder).
        secure_aggregation: run with SecAgg+ (True) or aggregate in the clear.

    Returns:
        The launch-relative times of the run directory's appearance and of each round's
        record in metrics.json, the counter snapshots over time, and when it started
        and ended.

    Raises:
        BenchmarkError: the run failed or did not end within `timeout`.
    """
    root = consortium.root
    mode = "--secure-aggregation" if secure_aggregation else "--no-secure-aggregation"
    log = root / f"owner{mode}.log"
    series = [(0.0, proxy.snapshot())]
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    process = processes.start(
        "owner", log, "run",
        "--server-config", str(root / "server.toml"),
        "--owner", consortium.owner.name, "--owner-key", str(consortium.owner.key),
        "--release", str(consortium.release),
        "--parties", str(len(consortium.nodes)),
        "--rounds", str(run.rounds),
        "--epsilon", repr(run.epsilon),
        "--model", run.model,
        "--runs-dir", str(runs_dir),
        "--test", str(consortium.consortium_test),
        "--flwr-home", str(root / "owner-flwr"),
        mode,
    )  # fmt: skip
    run_dir_seen: float | None = None
    round_seen: list[float] = []
    while True:
        now = time.perf_counter() - started
        series.append((now, proxy.snapshot()))
        run_dir, rounds = read_rounds(runs_dir)
        if run_dir is not None and run_dir_seen is None:
            run_dir_seen = now
        round_seen += [now] * (len(rounds) - len(round_seen))
        if process.poll() is not None:
            break
        if now > timeout:
            raise BenchmarkError(f"the run did not end within {timeout:.0f} s:\n{tail(log)}")
        time.sleep(0.1)
    ended = time.perf_counter() - started
    series.append((ended, proxy.snapshot()))
    if process.returncode != 0:
        raise BenchmarkError(f"`fedscore run` exited with {process.returncode}:\n{tail(log)}")
    return {
        "series": series,
        "run_dir_seen": run_dir_seen,
        "round_seen": round_seen,
        "ended": ended,
        "started_at": started_at,
        "ended_at": datetime.now(UTC),
    }


def deployment_measurement(
    work: Path,
    run: RunConfig,
    keys_from: Path,
    idle_seconds: float,
    timeout: float,
    progress: Callable[[str], None],
) -> tuple[dict[str, Any], FederatedRun]:
    """Start the consortium, measure an idle window, run twice, and stop everything.

    Args:
        work: an empty folder for the consortium.
        run: the run configuration.
        keys_from: the simulation's demo folder (its pseudonymization keys are used).
        idle_seconds: the idle window before the runs.
        timeout: the most seconds one run may take.
        progress: shows what is being done.

    Returns:
        The plain run's results (the SecAgg+ run's and the trust boundary's inside),
        and the plain run.

    Raises:
        BenchmarkError: the deployment did not come up or a run failed.
    """
    progress("deployment: preparing institutions and PKI")
    consortium = prepare_consortium(work, run, keys_from)
    proxy = ByteCountingProxy(consortium.superlink_port)
    processes = Processes()
    try:
        proxy.start(consortium.proxy_ports)
        progress("deployment: starting the SuperLink")
        server_log, config = work / "server.log", str(work / "server.toml")
        server = processes.start("superlink", server_log, "server", "start", "--config", config)
        superlink_ready = wait_for_text(server_log, "SuperLink ready", server, START_TIMEOUT_S)
        progress("deployment: starting 3 SuperNodes")
        started = time.perf_counter()
        nodes = {
            party: processes.start(
                f"node:{party}", work / f"{party}.log", "node", "start", "--config", str(config)
            )
            for party, config in consortium.nodes.items()
        }
        for party, node in nodes.items():
            wait_for_text(work / f"{party}.log", "SuperNode ID", node, START_TIMEOUT_S)
        nodes_connected = time.perf_counter() - started
        connect_bytes = proxy.snapshot()

        progress(f"deployment: idle window ({idle_seconds:.0f} s)")
        idle_start, idle_started = proxy.snapshot(), time.perf_counter()
        time.sleep(idle_seconds)
        idle_end, idle_elapsed = proxy.snapshot(), time.perf_counter() - idle_started

        runs: dict[str, MeasuredRun] = {}
        for secure in (False, True):
            label = SECAGG if secure else PLAIN
            progress(
                f"deployment: {run.rounds} rounds over TLS, SecAgg+ {'on' if secure else 'off'}"
            )
            cpu_start, cpu_since = processes.sample(), time.monotonic()
            own_cpu, busy = time.process_time(), machine_busy_cpu()
            runs_dir = consortium.runs_dir / label
            observed = owner_run(consortium, processes, proxy, run, timeout, runs_dir, secure)
            cpu_end = processes.sample()
            runs[label] = MeasuredRun(
                runs_dir,
                observed,
                processes.cpu_between(cpu_start, cpu_end, cpu_since),
                time.process_time() - own_cpu,
                machine_busy_cpu() - busy,
            )
        progress("deployment: measuring what the trust boundary costs")
        trust = _trust_overhead(consortium, runs[PLAIN], run.rounds)
    finally:
        progress("deployment: stopping every process")
        processes.stop_all()
        proxy.stop()

    idle = difference(idle_start, idle_end)
    results = {
        label: run_result(consortium, measured, idle, idle_elapsed, connect_bytes, number)
        for number, (label, measured) in enumerate(runs.items(), start=1)
    }
    # Each node's executor (and the task processes it forks) logs to its state folder.
    logs = [config.parent / "state" / "executor.log" for config in consortium.nodes.values()]
    for label, measured in runs.items():
        result = results[label][0]
        result["task_phases"] = task_phases(
            logs, measured.observed["started_at"], measured.observed["ended_at"]
        )
        result["round_breakdown"] = round_breakdown(
            result["task_phases"],
            result["steady_round_median_seconds"],
            SECAGG_EXCHANGES if label == SECAGG else 1,
        )
    plain, plain_observed = results[PLAIN][0], runs[PLAIN].observed
    round_seen, first_round_start = plain_observed["round_seen"], plain["first_round_start"]
    run_window = plain_observed["ended"]
    plain["startup"] = {
        "superlink_ready_seconds": superlink_ready,
        "supernodes_connected_seconds": nodes_connected,
        "run_launch_to_serverapp_seconds": plain_observed["run_dir_seen"],
        "run_launch_to_round_1_seconds": first_round_start,
        "after_last_round_to_exit_seconds": run_window - round_seen[-1],
    }
    plain["outside_rounds_seconds"] = (
        superlink_ready + nodes_connected + first_round_start + (run_window - round_seen[-1])
    )
    plain["secure_aggregation"] = results[SECAGG][0]
    plain["trust_boundary"] = trust
    plain["problems"] += [f"SecAgg+ run: {p}" for p in results[SECAGG][0]["problems"]]
    return plain, results[PLAIN][1]


def _trust_overhead(consortium: Consortium, plain: MeasuredRun, rounds: int) -> dict[str, Any]:
    """The trust boundary's checks, timed on the running consortium (trust_overhead.py)."""
    run_dir, _ = read_rounds(plain.runs_dir)
    assert run_dir is not None
    forwarded = trust_overhead.forwarded_requests(
        consortium.root / "coordinator" / "gateway.log",
        plain.observed["started_at"],
        plain.observed["ended_at"],
    )
    return trust_overhead.measure(
        next(iter(consortium.nodes.values())),
        consortium.release,
        run_dir,
        consortium.superlink_port,
        consortium.internal_port,
        consortium.pki.ca_cert,
        forwarded / rounds / len(consortium.nodes),
    )
