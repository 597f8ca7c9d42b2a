"""Poisson sampling per DP-SGD step: the old O(records) mask against the O(batch) sampler.

For N records (default 50,000, 200,000 and 1,000,000) and an expected batch of 512
(`RunConfig`'s default, q = 512 / N), times one step's batch selection both ways,
interleaved, on one torch thread as a node trains:

- mask: `torch.rand(N) < q`, then `inputs[mask]` (what `train_locally` did before);
- sampler: `fedscore.privacy.poisson_sampling.poisson_sample`, then `inputs[indices]`.

Both select the batch from a float32 matrix of N rows × 91 features (the demo task's
width), so the gather is included. The report gives the median per-step time of each
and their ratio; the ratio is what carries over between machines.

Writes benchmarks/results/poisson_sampling.json and poisson_sampling.md.

Usage: python benchmarks/poisson_sampling.py [--rows N ...] [--steps N] [--out-dir DIR] [--quick]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from support.cli import benchmark_parser, parse_benchmark_args
from support.machine import machine_line
from support.output import Session, markdown_table

from fedscore.privacy.poisson_sampling import poisson_sample

ROWS = (50_000, 200_000, 1_000_000)
BATCH = 512
FEATURES = 91


def _time_steps(step: Callable[[], torch.Tensor], steps: int) -> list[float]:
    seconds = []
    for _ in range(steps):
        started = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - started)
    return seconds


def time_population(rows: int, steps: int, rounds: int, features: int) -> dict[str, Any]:
    """Per-step batch selection at `rows` records, mask vs sampler, `rounds` interleaved."""
    q = BATCH / rows
    inputs = torch.from_numpy(np.random.default_rng(0).random((rows, features), np.float32))
    torch_generator = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)

    def mask_step() -> torch.Tensor:
        return inputs[torch.rand(rows, generator=torch_generator) < q]

    def sampler_step() -> torch.Tensor:
        return inputs[torch.from_numpy(poisson_sample(rows, q, rng))]

    times: dict[str, list[float]] = {"mask": [], "sampler": []}
    for index in range(rounds):
        # Alternate which goes first, so drift hits both alike.
        order = ("mask", "sampler") if index % 2 == 0 else ("sampler", "mask")
        for name in order:
            times[name] += _time_steps(mask_step if name == "mask" else sampler_step, steps)
    medians = {name: statistics.median(t) for name, t in times.items()}
    return {
        "rows": rows,
        "sample_rate": q,
        "expected_batch_size": BATCH,
        "steps_timed": {name: len(t) for name, t in times.items()},
        "median_step_seconds": medians,
        "p90_step_seconds": {name: statistics.quantiles(t, n=10)[-1] for name, t in times.items()},
        "speedup": medians["mask"] / medians["sampler"],
        # What one epoch (rows / batch steps) spends selecting batches.
        "epoch_seconds": {name: m * rows / BATCH for name, m in medians.items()},
    }


def render(result: dict[str, Any]) -> str:
    rows = [
        [
            f"{c['rows']:,}",
            f"{c['sample_rate']:.2e}",
            f"{c['median_step_seconds']['mask'] * 1e3:.3f}",
            f"{c['median_step_seconds']['sampler'] * 1e3:.3f}",
            f"{c['speedup']:.1f}×",
            f"{c['epoch_seconds']['mask']:.2f}",
            f"{c['epoch_seconds']['sampler']:.3f}",
        ]
        for c in result["cases"]
    ]
    return "\n".join(
        [
            "# Poisson sampling per DP-SGD step",
            "",
            f"Batch selection of one step (expected batch {BATCH}, {result['features']} "
            f"float32 features, gather included), median of {result['steps']} steps × "
            f"{result['rounds']} interleaved rounds per method, one torch thread. "
            "mask: `torch.rand(N) < q` then boolean indexing (before); sampler: "
            "`poisson_sample` (Binomial batch size, then distinct uniform indices) then "
            "index gather. Epoch = N / batch steps.",
            "",
            markdown_table(
                [
                    "records N",
                    "q",
                    "mask ms/step",
                    "sampler ms/step",
                    "mask / sampler",
                    "mask s/epoch",
                    "sampler s/epoch",
                ],
                rows,
            ),
            "",
            machine_line(result["machine"]),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """The script (`argv`: its arguments): time both samplers, write the results."""
    parser = benchmark_parser(__doc__, "N = 50,000 and 200,000, 20 steps × 2 rounds")
    parser.add_argument(
        "--rows", type=int, nargs="+", default=list(ROWS), help="(default %(default)s)"
    )
    parser.add_argument("--steps", type=int, default=100, help="steps per round (default 100)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (default 4)")
    args = parse_benchmark_args(
        parser,
        argv,
        "poisson_sampling",
        quick={"rows": [50_000, 200_000], "steps": 20, "rounds": 2},
    )
    session = Session("poisson_sampling", args.out_dir)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what the ClientApp does at every node
    try:
        cases = [time_population(n, args.steps, args.rounds, FEATURES) for n in args.rows]
    finally:
        torch.set_num_threads(threads)
    result = {
        "cases": cases,
        "steps": args.steps,
        "rounds": args.rounds,
        "features": FEATURES,
        "torch_threads": 1,
    }
    return session.finish(result, render, with_load=True)


if __name__ == "__main__":
    sys.exit(main())
