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
<out-dir>/deployment.md. Run with `make bench-deployment`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import tomli_w
import trust_overhead
from _common import (
    RESULTS_DIR,
    FederatedRun,
    configuration_progress,
    console,
    fmt,
    free_port,
    fresh_federation,
    machine_info,
    machine_line,
    markdown_table,
    run_federated,
    write_results,
)

from fedscore.core.run_request import OwnerIdentity
from fedscore.core.runconfig import RunConfig
from fedscore.core.signing import SigningKey
from fedscore.deployment.executor import DEFAULT_POLL_INTERVAL as EXECUTOR_POLL_SECONDS
from fedscore.deployment.pki import PkiLayout, init_pki, issue_node_key
from fedscore.deployment.release import build_release, working_tree_commit, write_release
from fedscore.deployment.supernode_process import IDLE_POLL_SECONDS, REPLY_POLL_SECONDS
from fedscore.server.polling_grid import DEFAULT_INTERVAL as GRID_POLL_SECONDS

HOST = "127.0.0.1"
START_TIMEOUT_S = 180.0
#: The waits on a deployed round's path (seconds): Flower 1.42's own (from its source) and
#: what fedscore's processes use instead.
POLLING = {
    "supernode_pull_when_idle": {"flower": 3.0, "fedscore": IDLE_POLL_SECONDS},
    "supernode_reply_wait": {"flower": 0.5, "fedscore": REPLY_POLL_SECONDS},
    "serverapp_grid_pull": {"flower": 3.0, "fedscore": GRID_POLL_SECONDS},
    "executor_task_poll": {"flower": 1.0, "fedscore": EXECUTOR_POLL_SECONDS},
}
#: The task processes: forked from the executor's warm forkserver.
TASK_PROCESS = "task process"


class BenchmarkError(RuntimeError):
    """The deployment did not come up or the run failed."""


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


# --------------------------------------------------------------------------- the proxy


class ByteCountingProxy:
    """One TCP forwarder per party to one target, counting bytes each way, in a thread.

    `sent`: bytes the party's SuperNode sent towards the SuperLink; `received`: bytes
    it got back. Both count TLS records as they cross the wire (payload, framing,
    handshakes); TCP/IP headers are not counted.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.counts: dict[str, dict[str, int]] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self, routes: dict[str, int]) -> None:
        """Listen on HOST:port for each party in `routes` (party → port)."""
        self._thread.start()
        for party, port in routes.items():
            self.counts[party] = {"sent": 0, "received": 0, "connections": 0}
            server = asyncio.run_coroutine_threadsafe(
                asyncio.start_server(self._handler(party), HOST, port), self._loop
            ).result(timeout=10)
            self._servers.append(server)

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {party: dict(counts) for party, counts in self.counts.items()}

    def _handler(self, party: str) -> Callable[..., Any]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            counts = self.counts[party]
            counts["connections"] += 1
            try:
                up_reader, up_writer = await asyncio.open_connection(HOST, self.target_port)
            except OSError:
                writer.close()
                return
            self._writers |= {writer, up_writer}
            try:
                await asyncio.gather(
                    self._pump(reader, up_writer, counts, "sent"),
                    self._pump(up_reader, writer, counts, "received"),
                )
            finally:
                for end in (writer, up_writer):
                    end.close()
                    self._writers.discard(end)

        return handle

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        counts: dict[str, int],
        key: str,
    ) -> None:
        try:
            while data := await reader.read(65536):
                counts[key] += len(data)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.close()

    def stop(self) -> None:
        async def shutdown() -> None:
            for server in self._servers:
                server.close()
            for writer in list(self._writers):
                writer.close()

        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)


# ------------------------------------------------------------------- processes we start


#: Module names in a command line → the process kind reported.
_FEDSCORE_PROCESSES = {
    "fedscore.deployment.supernode_process": "flower-supernode",
    "fedscore.deployment.executor": "fedscore executor",
    "fedscore.deployment.fleet_gateway": "fleet gateway",
    "multiprocessing.forkserver": TASK_PROCESS,
    "fedscore.cli.main": "fedscore",
}


def _kind(process: psutil.Process) -> str:
    """What a process is: Flower's tool name, one of fedscore's processes, else its name.

    The executor's forkserver and the task processes forked from it share one command
    line; both count as task processes (the forkserver itself uses next to no CPU).
    """
    try:
        cmdline = process.cmdline()
        for arg in cmdline[:3]:
            base = Path(arg).name
            if base.startswith(("flower-", "flwr")):
                return base
        joined = " ".join(cmdline)
        for module, kind in _FEDSCORE_PROCESSES.items():
            if module in joined:
                return kind
        return process.name()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "?"


@dataclass
class _Seen:
    kind: str
    role: str
    created: float
    first_seen: float
    last_seen: float
    cpu: float
    process: psutil.Process


@dataclass
class Processes:
    """Processes started in their own process groups, and every descendant seen of them.

    A sampler thread records each descendant (kind, CPU seconds, when seen) every
    `interval` seconds. `stop_all` ends each group (SIGTERM, then SIGKILL), then any
    recorded descendant that left its group (Flower starts the SuperLink's SuperExec
    in a session of its own) and is still alive, by pid and creation time.
    """

    interval: float = 0.25
    started: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    seen: dict[int, _Seen] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def start(self, role: str, log: Path, *args: str) -> subprocess.Popen:
        """`python -m fedscore.cli.main ARGS` in a new session, output to `log`."""
        with log.open("ab") as handle:
            process = subprocess.Popen(
                [sys.executable, "-m", "fedscore.cli.main", *args],
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "FLWR_TELEMETRY_ENABLED": "0"},
            )
        self.started.append((role, process))
        if self._thread is None:
            self._thread = threading.Thread(target=self._sample_forever, daemon=True)
            self._thread.start()
        return process

    def sample(self) -> dict[int, float]:
        """Record every live descendant now; returns pid → CPU seconds (user + system)."""
        now = time.monotonic()
        cpu_now: dict[int, float] = {}
        for role, root in list(self.started):
            try:
                top = psutil.Process(root.pid)
                tree = [top, *top.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for process in tree:
                try:
                    with process.oneshot():
                        times = process.cpu_times()
                        created = process.create_time()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                cpu = times.user + times.system
                cpu_now[process.pid] = cpu
                with self._lock:
                    known = self.seen.get(process.pid)
                    if known is None or known.created != created:
                        self.seen[process.pid] = _Seen(
                            _kind(process), role, created, now, now, cpu, process
                        )
                    else:
                        known.last_seen, known.cpu = now, cpu
        return cpu_now

    def _sample_forever(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def cpu_between(
        self, start: dict[int, float], end: dict[int, float], since: float
    ) -> dict[str, dict[str, Any]]:
        """CPU seconds and processes started per kind between two `sample()` calls.

        Processes that ended in between count with their last sampled CPU time (up to
        `interval` of their last work is missed). For processes that both started and
        ended in between: each one's lifetime (first to last sighting) and CPU seconds.
        """
        by_kind: dict[str, dict[str, Any]] = {}
        with self._lock:
            for pid, info in self.seen.items():
                if info.last_seen < since:
                    continue
                cpu = max(end.get(pid, info.cpu) - start.get(pid, 0.0), 0.0)
                entry = by_kind.setdefault(
                    info.kind,
                    {"cpu_seconds": 0.0, "started": 0, "lifetimes_seconds": [], "cpu_each": []},
                )
                entry["cpu_seconds"] += cpu
                if info.first_seen >= since:
                    entry["started"] += 1
                    if pid not in end:
                        entry["lifetimes_seconds"].append(info.last_seen - info.first_seen)
                        entry["cpu_each"].append(cpu)
        return dict(sorted(by_kind.items()))

    def stop_all(self) -> None:
        self.sample()  # find every descendant while the parents still live
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for _, process in reversed(self.started):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for _, process in self.started:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        leftovers = []
        for info in self.seen.values():
            try:
                if info.process.is_running() and info.process.create_time() == info.created:
                    info.process.terminate()
                    leftovers.append(info.process)
            except psutil.NoSuchProcess:
                continue
        _, alive = psutil.wait_procs(leftovers, timeout=10)
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()


# ------------------------------------------------------------------------ measurements


def wait_for_text(path: Path, text: str, process: subprocess.Popen, timeout: float) -> float:
    """Seconds until `text` shows in the log at `path`."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if path.exists() and text in path.read_text(errors="replace"):
            return time.perf_counter() - started
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise BenchmarkError(
        f"'{text}' not seen in {path.name} (exit status {process.poll()}):\n{tail(path)}"
    )


def machine_busy_cpu() -> float:
    """CPU seconds all cores of the machine have spent busy since boot."""
    t = psutil.cpu_times()
    return sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))


def simulation_measurement(work: Path, run: RunConfig) -> tuple[dict[str, Any], FederatedRun]:
    """The simulated run: round times, and everything outside the rounds."""
    busy, started = machine_busy_cpu(), time.perf_counter()
    federated = run_federated(work, run)
    busy, window = machine_busy_cpu() - busy, time.perf_counter() - started
    seconds = federated.round_seconds
    return {
        "round_seconds": seconds,
        **_round_statistics(seconds),
        "wall_seconds": federated.wall_seconds,
        "machine_busy_cpu_seconds": busy,
        "measured_window_seconds": window,
        "outside_rounds_seconds": federated.wall_seconds - sum(seconds),
        "consortium_test_auc": federated.consortium_test["auc"],
        "problems": federated.problems(),
    }, federated


def _round_statistics(seconds: list[float]) -> dict[str, float]:
    steady = seconds[1:] or seconds
    return {
        "first_round_seconds": seconds[0],
        "steady_round_median_seconds": statistics.median(steady),
        "round_mean_seconds": statistics.fmean(seconds),
        "rounds_total_seconds": sum(seconds),
    }


@dataclass
class Consortium:
    """The deployment's files: PKI, server.toml, node configs, ports."""

    root: Path
    pki: PkiLayout
    superlink_port: int
    internal_port: int
    proxy_ports: dict[str, int]
    nodes: dict[str, Path]
    consortium_test: Path
    runs_dir: Path
    release: Path
    owner: OwnerIdentity


def prepare_consortium(root: Path, run: RunConfig, keys_from: Path) -> Consortium:
    """A fresh demo consortium with a PKI, a server.toml and a [deployment] per node.

    Each node's `superlink` is its own proxy port on 127.0.0.1.
    """
    federation = fresh_federation(root, run, keys_from)
    pki = init_pki(root / "pki", [HOST, "localhost"], organization="fedscore benchmark")
    repository = Path(__file__).resolve().parent.parent
    release = build_release(repository, working_tree_commit(repository))
    fab, _ = write_release(release, root / "releases")
    approved = [f"sha256:{release.sha256}"]
    superlink_port, internal_port = free_port(), free_port()
    proxy_ports: dict[str, int] = {}
    nodes: dict[str, Path] = {}
    for config in federation.manifest.node_configs:
        party = config.parent.name
        private, _ = issue_node_key(pki.root, party)
        proxy_ports[party] = free_port()
        section = {
            "trust": {"approved_apps": approved},
            "deployment": {
                "superlink": f"{HOST}:{proxy_ports[party]}",
                "root_certificates": str(pki.ca_cert),
                "auth_key": str(private),
                "runtime_port": free_port(),
            },
        }
        with config.open("a", encoding="utf-8") as handle:
            handle.write("\n" + tomli_w.dumps(section))
        nodes[party] = config
    server = {
        "superlink": {
            "pki": str(pki.root),
            "state_dir": str(root / "coordinator"),
            "host": HOST,
            "port": superlink_port,
            "internal_port": internal_port,
            "gateway_log_level": "debug",  # counts the Fleet requests per round
        },
        "trust": {
            "approved_apps": approved,
            "model_owners": {
                federation.owner.name: SigningKey.load(federation.owner.key).public_hex
            },
        },
    }
    (root / "server.toml").write_text(tomli_w.dumps(server), encoding="utf-8")
    return Consortium(
        root,
        pki,
        superlink_port,
        internal_port,
        proxy_ports,
        nodes,
        federation.consortium_test,
        federation.runs_dir,
        fab,
        federation.owner,
    )


def _difference(a: dict[str, dict[str, int]], b: dict[str, dict[str, int]]) -> dict[str, Any]:
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


def _read_rounds(runs_dir: Path) -> tuple[Path | None, list[dict[str, Any]]]:
    run_dirs = [p for p in runs_dir.iterdir() if p.is_dir()] if runs_dir.is_dir() else []
    if not run_dirs:
        return None, []
    run_dir = run_dirs[0]
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return run_dir, []
    return run_dir, metrics.get("rounds", [])


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
        runs_dir: where the run directory is written (one run per folder).
        secure_aggregation: run with SecAgg+ (True) or aggregate in the clear.

    Returns the launch-relative times of the run directory's appearance and of each
    round's record in metrics.json, the counter snapshots over time and the run's
    exit status.
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
        run_dir, rounds = _read_rounds(runs_dir)
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
    """Start the consortium, measure an idle window, run, and stop everything."""
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

        runs: dict[str, _MeasuredRun] = {}
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
            runs[label] = _MeasuredRun(
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

    idle = _difference(idle_start, idle_end)
    results = {
        label: _run_result(consortium, measured, idle, idle_elapsed, connect_bytes, number)
        for number, (label, measured) in enumerate(runs.items(), start=1)
    }
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


PLAIN, SECAGG = "plain", "secagg"


def _trust_overhead(consortium: Consortium, plain: _MeasuredRun, rounds: int) -> dict[str, Any]:
    """The trust boundary's checks, timed on the running consortium (trust_overhead.py)."""
    run_dir, _ = _read_rounds(plain.runs_dir)
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


@dataclass
class _MeasuredRun:
    """One `fedscore run` of the deployment: where it wrote, what was watched, its CPU."""

    runs_dir: Path
    observed: dict[str, Any]
    cpu: dict[str, Any]
    own_cpu: float
    machine_busy: float


def _run_result(
    consortium: Consortium,
    measured: _MeasuredRun,
    idle: dict[str, Any],
    idle_elapsed: float,
    connect_bytes: dict[str, Any],
    runs_on_same_data: int,
) -> tuple[dict[str, Any], FederatedRun]:
    """Round times, bytes per party and CPU of one deployed run.

    Args:
        runs_on_same_data: this run's number on the consortium (the parties' epsilon
            is cumulative over the runs on the same data).
    """
    observed = measured.observed
    run_dir, _ = _read_rounds(measured.runs_dir)
    assert run_dir is not None
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    seconds = [float(r["seconds"]) for r in metrics["rounds"]]
    federated = FederatedRun(run_dir, summary, seconds, observed["ended"])

    series, round_seen = observed["series"], observed["round_seen"]
    first_round_start = round_seen[0] - seconds[0]
    boundaries = [first_round_start, *round_seen]
    per_round = [
        _difference(_at(series, a), _at(series, b)) for a, b in itertools.pairwise(boundaries)
    ]
    before = _difference(series[0][1], _at(series, first_round_start))
    after = _difference(_at(series, round_seen[-1]), series[-1][1])
    total = _difference(series[0][1], series[-1][1])
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
        **_round_statistics(seconds),
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


def fab_bytes() -> int | None:
    """Size of the FAB `fedscore run` builds from this checkout (nodes download it)."""
    try:
        from flwr.cli.build import build_fab_from_disk

        from fedscore.deployment.runs import app_project_dir

        return len(build_fab_from_disk(app_project_dir()))
    except Exception:  # an informative extra only
        return None


# ---------------------------------------------------------------------------- report


def _kib(value: float) -> str:
    return f"{value / 1024:.1f}"


def _span(values: Iterable[float]) -> str:
    low, high = min(values := list(values)), max(values)
    return f"{low:g}" if low == high else f"{low:g}–{high:g}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if b else "—"


def _comparison_rows(
    before: dict[str, Any], after: dict[str, Any], measures: list[tuple[str, str, int]]
) -> list[list[str]]:
    """Rows (label, before, after, after / before) of (label, key, digits) measures, and
    the consortium-test AUC of both."""
    rows = [
        [label, fmt(before[key], digits), fmt(after[key], digits), _ratio(after[key], before[key])]
        for label, key, digits in measures
    ]
    auc = "consortium_test_auc"
    return [*rows, ["consortium-test AUC", fmt(before[auc]), fmt(after[auc]), ""]]


def render_markdown(result: dict[str, Any]) -> str:
    """The short report: round time both ways, bytes per party, where the time goes."""
    sim, dep = result["simulation"], result["deployment"]
    rounds = result["run_config"]["rounds"]
    steady_label = f"median of rounds 2–{rounds}" if rounds > 1 else "median round"
    time_rows = _comparison_rows(
        sim,
        dep,
        [
            (f"round time, {steady_label} (s)", "steady_round_median_seconds", 2),
            ("round 1 (s)", "first_round_seconds", 2),
            (f"all {rounds} rounds (s)", "rounds_total_seconds", 1),
            ("start-up and finish, outside rounds (s)", "outside_rounds_seconds", 1),
        ],
    )
    time_table = markdown_table(
        ["", "simulation (Ray)", "deployment (TLS, 127.0.0.1)", "deployment / simulation"],
        time_rows,
    )
    byte_rows = []
    for party, b in dep["bytes"].items():
        idle = b["idle_per_second"]
        round_s = dep["steady_round_median_seconds"]
        byte_rows.append(
            [
                party,
                _kib(b["steady_round_median"]["sent"]),
                _kib(b["steady_round_median"]["received"]),
                _kib(b["per_round"][0]["sent"]),
                _kib(b["per_round"][0]["received"]),
                _kib(b["run_total_per_round"]["sent"]),
                _kib(b["run_total_per_round"]["received"]),
                f"{_kib(idle['sent'] * round_s)} / {_kib(idle['received'] * round_s)}",
                f"{b['steady_round_median']['connections']:g}",
            ]
        )
    byte_table = markdown_table(
        [
            "party",
            "sent / round (KiB)",
            "received / round (KiB)",
            "round 1 sent",
            "round 1 received",
            f"whole run ÷ {rounds}, sent",
            f"whole run ÷ {rounds}, received",
            "idle node, same time: sent / received",
            "TCP+TLS connections opened / round",
        ],
        byte_rows,
    )
    start = dep["startup"]
    cpu = dep["cpu_during_run"]["by_process_kind"]
    cpu_text = ", ".join(
        f"`{kind}` {c['cpu_seconds']:.1f} s"
        + (f" ({int(c['started'])} started)" if c["started"] else "")
        for kind, c in sorted(cpu.items(), key=lambda kv: -kv[1]["cpu_seconds"])
        if c["cpu_seconds"] >= 0.05
    )
    total_cpu = sum(c["cpu_seconds"] for c in cpu.values())
    clientapp = cpu.get(TASK_PROCESS, {"started": 0, "lifetimes_seconds": [], "cpu_each": []})
    lifetimes, cpu_each = clientapp["lifetimes_seconds"], clientapp["cpu_each"]
    clientapp_text = (
        f"each lived a median {statistics.median(lifetimes):.1f} s "
        f"[{min(lifetimes):.1f}–{max(lifetimes):.1f}] and used a median "
        f"{statistics.median(cpu_each):.1f} s of CPU"
        if lifetimes
        else "lifetimes not sampled"
    )
    fab = result.get("fab_bytes")
    poll = result["polling_seconds"]
    lines = [
        "# Deployment vs simulation",
        "",
        f"One run each of the same run config ({result['run_config']['model'].upper()}, "
        f"{rounds} rounds, DP-SGD at ε = {result['run_config']['epsilon']:g}, other "
        "`RunConfig` defaults) on the demo consortium's three institutions. Deployment: "
        "`fedscore server start` (SuperLink, TLS, SuperNode authentication), three "
        "`fedscore node start` and `fedscore run`, all on 127.0.0.1, each SuperNode "
        "through its own byte-counting TCP proxy. Round time is the ServerApp's wall time "
        "per round (train, aggregate, federated evaluation, consortium test) from "
        "metrics.json; start-up is outside it.",
        "",
        "## Round time",
        "",
        time_table,
        "",
        f"Deployment start-up: SuperLink ready {start['superlink_ready_seconds']:.1f} s "
        "after launch (includes registering the 3 node keys), SuperNodes connected "
        f"{start['supernodes_connected_seconds']:.1f} s later; `fedscore run` → round 1 "
        f"starts {start['run_launch_to_round_1_seconds']:.1f} s (FAB build and upload, "
        "ServerApp process start); last round → run ended "
        f"{start['after_last_round_to_exit_seconds']:.1f} s. Simulation, outside rounds: "
        "input checks, Ray start and stop, initial consortium test, run directory.",
        "",
        "Where a deployed round's time goes: a round is two exchanges (train, then "
        "evaluate), and every message runs in a task process of its own, forked from the "
        "party's warm forkserver (fedscore's executor: torch, Opacus and fedscore imported "
        f"once; {int(clientapp['started'])} started for {rounds} rounds × 2 messages × 3 "
        f"parties and the ServerApp; {clientapp_text}), which checks the app, then loads "
        "and de-identifies the party's table again. The waits on the path, Flower 1.42's "
        "→ fedscore's: "
        + " / ".join(
            f"{poll[key]['flower']:g} → {poll[key]['fedscore']:g} s ({label})"
            for key, label in (
                ("supernode_pull_when_idle", "idle SuperNode pull"),
                ("supernode_reply_wait", "SuperNode reply check"),
                ("executor_task_poll", "task poll"),
                ("serverapp_grid_pull", "ServerApp reply pull"),
            )
        )
        + ". CPU during the run, all processes: "
        f"{total_cpu:.0f} s over {dep['run_wall_seconds']:.0f} s of wall time on "
        f"{result['machine']['usable_cores']} cores — {cpu_text}; the proxies and samplers "
        f"in the benchmark process {dep['cpu_during_run']['benchmark_process_seconds']:.1f} s.",
        "",
        f"## Bytes on the wire per party (KiB; TLS records, {steady_label} unless noted)",
        "",
        byte_table,
        "",
        "Sent: SuperNode → SuperLink; received: SuperLink → SuperNode. Round 1 includes "
        "fetching the run and the FAB"
        + (f" ({fab / 1024:.0f} KiB compressed, built from this checkout)" if fab else "")
        + ". Idle: a connected node with no run, measured over "
        f"{dep['idle_window_seconds']:.0f} s before the run and scaled to the median "
        "round's duration. Each new connection needs a new TLS handshake (the SuperLink's "
        "certificate chain, unless the session is resumed); a party opened "
        f"{_span(b['run_total']['connections'] for b in dep['bytes'].values())} during the "
        "run.",
        "",
        "## Secure aggregation (SecAgg+)",
        "",
        secagg_markdown(result),
        "",
        trust_overhead.markdown(dep["trust_boundary"]),
        "",
    ]
    cores = result["machine"]["usable_cores"] or 1
    run_cpu = dep["cpu_during_run"]
    lines += [
        "## Other work on the machine",
        "",
        f"Busy CPU of the whole machine during the simulated run: "
        f"{sim['machine_busy_cpu_seconds']:.0f} s over {sim['measured_window_seconds']:.0f} s "
        f"({sim['machine_busy_cpu_seconds'] / (cores * sim['measured_window_seconds']):.0%} of "
        f"{cores} cores); during the deployed run {run_cpu['machine_busy_seconds']:.0f} s "
        f"over {dep['run_wall_seconds']:.0f} s "
        f"({run_cpu['machine_busy_seconds'] / (cores * dep['run_wall_seconds']):.0%}), of "
        f"which about {max(run_cpu['other_work_seconds'], 0.0):.0f} s were not this "
        "benchmark's processes. Anything well above zero there means the timings were "
        "disturbed.",
        "",
    ]
    problems = result["problems"]
    if problems:
        lines += ["**Problems:**", *(f"- {p}" for p in problems), ""]
    load = result["load_average_at_start"][0], result["machine"]["load_average_1_5_15min"][0]
    lines += [
        machine_line(result["machine"]),
        f"Total runtime {result['total_seconds']:.0f} s. Load average (1 min) at start "
        f"{load[0]:.2f}, at end {load[1]:.2f}: timings are only meaningful on an otherwise "
        "idle machine.",
    ]
    return "\n".join(lines)


def secagg_ratios(deployment: dict[str, Any]) -> dict[str, Any]:
    """SecAgg+ on vs off on the same running consortium: time and bytes ratios."""
    plain, secure = deployment, deployment["secure_aggregation"]

    def ratio(key: str) -> float:
        return secure[key] / plain[key]

    return {
        "measured": True,
        "steady_round_median_ratio": ratio("steady_round_median_seconds"),
        "round_mean_ratio": ratio("round_mean_seconds"),
        "rounds_total_ratio": ratio("rounds_total_seconds"),
        "bytes_per_round_ratio": {
            party: {
                direction: secure["bytes"][party]["steady_round_median"][direction]
                / plain["bytes"][party]["steady_round_median"][direction]
                for direction in ("sent", "received")
            }
            for party in plain["bytes"]
        },
        "target": "SecAgg+ round < 2x a plain round",
    }


def secagg_markdown(result: dict[str, Any]) -> str:
    """The SecAgg+ on/off table and what a SecAgg+ round adds."""
    plain = result["deployment"]
    secure = plain["secure_aggregation"]
    rounds = result["run_config"]["rounds"]
    rows = _comparison_rows(
        plain,
        secure,
        [
            ("round time, median (s)", "steady_round_median_seconds", 2),
            (f"all {rounds} rounds (s)", "rounds_total_seconds", 1),
        ],
    )
    ratios = result["secure_aggregation"]["bytes_per_round_ratio"]
    for party, b in plain["bytes"].items():
        on = secure["bytes"][party]["steady_round_median"]
        off = b["steady_round_median"]
        rows.append(
            [
                f"{party}: sent / received per round (KiB)",
                f"{_kib(off['sent'])} / {_kib(off['received'])}",
                f"{_kib(on['sent'])} / {_kib(on['received'])}",
                " / ".join(f"{ratios[party][d]:.1f}×" for d in ("sent", "received")),
            ]
        )
    table = markdown_table(["", "SecAgg+ off", "SecAgg+ on", "on / off"], rows)
    clientapps = secure["cpu_during_run"]["by_process_kind"].get(TASK_PROCESS, {})
    return (
        f"{table}\n\nThe same running consortium, a second run with SecAgg+ on (as `fedscore "
        "run` does by default). A SecAgg+ round sends each party four training requests "
        "instead of one (setup, share keys, collect masked vectors, unmask) and each "
        "party's update travels masked (quantized to 32-bit integers) next to its key "
        f"shares; {int(clientapps.get('started', 0))} task processes were started for that "
        "run. The three protocol-only steps need no model and no data, so they mostly cost "
        "the exchanges' waits. Target: a SecAgg+ round under 2× a plain round."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="federated rounds (default 5)")
    parser.add_argument("--epsilon", type=float, default=1.0, help="epsilon (default 1)")
    parser.add_argument("--model", choices=("lr", "mlp"), default="lr", help="model (lr)")
    parser.add_argument(
        "--idle-seconds", type=float, default=15.0, help="idle window before the run (15)"
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds the deployed run may take (900)"
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where results go")
    parser.add_argument(
        "--keep", type=Path, default=None, help="work here and keep it (logs, run dirs)"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.epsilon <= 0 or args.idle_seconds <= 0:
        parser.error("--rounds, --epsilon and --idle-seconds must be positive")

    started = time.perf_counter()
    load_at_start = list(os.getloadavg())
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
            "delta": run.delta,
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
        "load_average_at_start": load_at_start,
        "machine": machine_info(),
        "total_seconds": time.perf_counter() - started,
    }
    markdown = render_markdown(result)
    for path in write_results(args.out_dir, "deployment", result, markdown):
        console.print(f"wrote {path}")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
