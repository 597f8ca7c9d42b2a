"""Peak memory of a simulated run: sampled RSS of the process tree, and getrusage."""

from __future__ import annotations

import resource
import threading
from typing import Any

MIB = 2**20

try:
    import psutil  # installed with Ray (flwr[simulation])
except ImportError:  # pragma: no cover - psutil comes with ray
    psutil = None


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
