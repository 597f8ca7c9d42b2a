"""Scoring latency: in process, over gRPC + TLS with one client, and under load.

`fedscore serve` runs in its own process; the load test runs 16 clients (2 processes ×
8 threads, one TLS channel each) for a fixed time.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fedscore.deployment.localhost.processes import fedscore_command, fedscore_environment

LOAD_CLIENTS = (2, 8)  # processes × threads = 16 concurrent clients
WARMUP_CALLS = 500


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50 / p99 / p99.9 / max in milliseconds, and how many there were.

    Args:
        seconds: the latencies in seconds.

    Returns:
        p50_ms, p99_ms, p999_ms, max_ms and n.
    """
    values = np.asarray(seconds) * 1e3
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
        "p999_ms": float(np.percentile(values, 99.9)),
        "max_ms": float(values.max()),
        "n": len(values),
    }


def best_of(runs: list[dict[str, float]]) -> dict[str, object]:
    """The run with the lowest p99 (the machine may be shared), with every run kept.

    Args:
        runs: each run's `percentiles`.

    Returns:
        The best run's figures and, under "runs", all of them.
    """
    best = min(runs, key=lambda run: run["p99_ms"])
    return {**best, "runs": runs}


def call_latencies(call: Callable[[Any], object], people: Sequence[Any]) -> dict[str, float]:
    """`call` once per customer, after `WARMUP_CALLS` untimed calls; the latencies' percentiles.

    Args:
        call: scores one customer.
        people: the customers, in order.

    Returns:
        What `percentiles` gives for the timed calls.
    """
    for person in people[:WARMUP_CALLS]:
        call(person)
    latencies = []
    for person in people:
        started = time.perf_counter()
        call(person)
        latencies.append(time.perf_counter() - started)
    return percentiles(latencies)


def in_process(scorer, people: list[dict[str, object]]) -> dict[str, float]:
    """Single-customer scoring with `Scorer.score_record`, in this process."""
    return call_latencies(scorer.score_record, people)


def start_server(registry: Path, pki: Path, port: int) -> subprocess.Popen:
    """`fedscore serve` on `port`, once it says it is serving.

    Args:
        registry: the model registry it serves the production model of.
        pki: the PKI whose server certificate it presents.
        port: its port on 127.0.0.1.

    Returns:
        The server process.

    Raises:
        RuntimeError: it did not start.
    """
    command = fedscore_command("serve", "--registry", str(registry), "--pki", str(pki))
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        env=fedscore_environment(),
    )
    assert process.stderr is not None
    banner = process.stderr.readline()
    if "serving" not in banner:
        process.kill()
        raise RuntimeError(f"fedscore serve did not start: {banner}")
    return process


def one_client(address: str, ca: Path, people: list[dict[str, object]]) -> dict[str, float]:
    """Sequential `Score` calls of one gRPC client over TLS."""
    from fedscore.scoring.grpc_api import ScoringClient

    with ScoringClient(address, ca) as client:
        client.wait_ready()
        return call_latencies(client.score, people)


def _load_process(address: str, ca: str, people: list[dict], threads: int, seconds: float, out):
    """One client process: `threads` clients, each on its own TLS channel, for `seconds`."""
    import grpc

    from fedscore.scoring.grpc_api import ScoringClient

    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    clients = [ScoringClient(address, Path(ca)) for _ in range(threads)]
    for client in clients:
        client.wait_ready()
        client.score(people[0])
    barrier = threading.Barrier(threads)

    def work(index: int) -> None:
        client, mine = clients[index], latencies[index]
        barrier.wait()
        deadline = time.perf_counter() + seconds
        position = index
        while True:
            started = time.perf_counter()
            if started >= deadline:
                break
            try:
                client.score(people[position % len(people)])
            except grpc.RpcError:
                errors[index] += 1
            mine.append(time.perf_counter() - started)
            position += threads

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for client in clients:
        client.close()
    out.put(([x for series in latencies for x in series], sum(errors)))


def load_test(address: str, ca: Path, people: list[dict[str, object]], seconds: float) -> dict:
    """`LOAD_CLIENTS` clients scoring for `seconds`: requests/s, percentiles, errors."""
    processes, threads = LOAD_CLIENTS
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(
            target=_load_process, args=(address, str(ca), people, threads, seconds, queue)
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    latencies = [x for series, _ in results for x in series]
    errors = sum(e for _, e in results)
    summary = percentiles(latencies)
    summary.update(
        clients=processes * threads,
        seconds=seconds,
        requests=len(latencies),
        requests_per_second=len(latencies) / seconds,
        errors=errors,
    )
    return summary
