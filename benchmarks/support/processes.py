"""The processes of a deployment: started in their own sessions, sampled, stopped.

`Processes` starts fedscore commands each in a process group of its own, records every
descendant it sees (what it is, its CPU seconds, when it was seen) from a sampler
thread, and stops them all, also those that left their group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from fedscore.deployment.localhost.processes import fedscore_command, fedscore_environment

#: The task processes: forked from the executor's warm forkserver.
TASK_PROCESS = "task process"


class BenchmarkError(RuntimeError):
    """The deployment did not come up or the run failed."""


def tail(path: Path, chars: int = 3000) -> str:
    """The end of the log at `path` (or "(no log)")."""
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def wait_for_text(path: Path, text: str, process: subprocess.Popen, timeout: float) -> float:
    """Seconds until `text` shows in the log at `path`.

    Args:
        path: the process's log.
        text: what to wait for.
        process: the process writing the log (its end stops the wait).
        timeout: the most seconds to wait.

    Returns:
        The seconds waited.

    Raises:
        BenchmarkError: the process ended or `timeout` passed first.
    """
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
    """A process seen by the sampler: what it is, whose it is, when seen, its CPU."""

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
        """`fedscore ARGS` in a new session, output to `log`.

        Args:
            role: what the process plays ("superlink", "node:<party>", "owner").
            log: the file its output is appended to.
            *args: the fedscore subcommand and its options.

        Returns:
            The started process.
        """
        with log.open("ab") as handle:
            process = subprocess.Popen(
                fedscore_command(*args),
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=fedscore_environment(),
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
        """End every group (SIGTERM, then SIGKILL), then every recorded straggler."""
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
