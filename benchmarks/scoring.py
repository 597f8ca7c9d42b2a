"""How fast the scoring service answers and how fast a book is graded.

Trains the demo consortium's LR model (10 rounds, ε = 1; or takes `--run-dir`),
registers it, then measures:

- in-process single-customer scoring (`Scorer.score_record`: identifier check,
  validation, encoding, model, points, grade, reason codes): p50/p99/p99.9 over
  consortium-test customers, best of `--repeats` (3) runs; target p99 < 1 ms;
- gRPC over TLS on 127.0.0.1 against `fedscore serve` in its own process: one client,
  sequential `Score` calls, p50/p99, best of 3 runs (target p99 < 5 ms); then 16 clients
  (2 processes × 8 threads, one TLS channel each) for `--load-seconds` (60): requests/s,
  p50/p99 and errors (target: zero);
- batch grading with `fedscore score` in its own process of a `--batch-rows`
  (10,000,000) row typed Parquet book, scores only and with the bundled decision strategy
  (`--strategy`), side by side with the floor (`scoring_floor.py`: the same columns read
  and the logit computed by hand, in its own process): rows/s, engine ÷ floor and peak
  RSS (targets: grading + decisions >= 1,000,000 rows/s and within 3x of the floor); the
  same at 1,000,000 rows (flat memory: the peaks should be close), and a 1,000,000-row
  CSV book.

Writes benchmarks/results/scoring.json and scoring.md. `--quick` (2 training rounds,
3 s of load, 200,000-row books, one latency run; results in a temporary folder) is a
smoke check. Modules: `scoring_latency`, `scoring_batch`, `scoring_report`.

`--batch-only` skips the latency measurements (the batch table alone).

Usage: python benchmarks/scoring.py [--run-dir RUN --keys KEYS] [--load-seconds 60]
                                    [--batch-rows N] [--repeats 3] [--out-dir DIR] [--quick]
                                    [--batch-only]
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from scoring_batch import batch, floor, write_book
from scoring_latency import best_of, in_process, load_test, one_client, start_server
from scoring_report import render_markdown
from support.cli import benchmark_parser, parse_benchmark_args
from support.federation import run_federated
from support.machine import machine_info
from support.output import console, publish

from fedscore.core.runconfig import RunConfig
from fedscore.datasets.market import split_market
from fedscore.demo.identities import add_identities
from fedscore.deployment.localhost.processes import free_port
from fedscore.deployment.pki import init_pki
from fedscore.scoring import ModelRegistry
from fedscore.scoring.scorer import Scorer

QUICK = {"load_seconds": 3.0, "batch_rows": 200_000}
#: The rows of the smaller books (Parquet and CSV), next to the big one.
SMALL_BOOK_ROWS = 1_000_000
#: The decision strategy batch grading decides with (the bundled champion).
STRATEGY = Path(__file__).resolve().parents[1] / "decisions" / "strategies" / "default.toml"


def customers(frame: pd.DataFrame, features: list[str]) -> list[dict[str, object]]:
    """The customers of `frame` as records of the model's features."""
    return frame[features].to_dict("records")


def main(argv: list[str] | None = None) -> int:
    """The script (`argv`: its arguments): time scoring, write the results."""
    parser = benchmark_parser(__doc__, "2 training rounds, 3 s of load, 200,000-row books")
    parser.add_argument(
        "--run-dir", type=Path, help="A finished run to register (default: train one)."
    )
    parser.add_argument(
        "--keys",
        type=Path,
        help="The consortium's key list its parties' ledger entries verify with "
        "(needed with --run-dir).",
    )
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument(
        "--repeats", type=int, default=3, help="Latency runs; the table shows the best p99."
    )
    parser.add_argument("--batch-rows", type=int, default=10_000_000)
    parser.add_argument(
        "--batch-only", action="store_true", help="Measure batch grading only (no latencies)."
    )
    args = parse_benchmark_args(parser, argv, "scoring", QUICK)
    if args.run_dir is not None and args.keys is None:
        parser.error("--run-dir needs --keys: the consortium's key list")

    work = Path(tempfile.mkdtemp(prefix="fedscore-bench-scoring-"))
    run_dir, keys = args.run_dir, args.keys
    if run_dir is None:
        rounds = 2 if args.quick else 10
        console.print(f"training the demo consortium's LR model ({rounds} rounds, ε = 1)")
        run_dir = run_federated(
            work / "demo", RunConfig(rounds=rounds, model="lr", epsilon=1.0)
        ).run_dir
        keys = work / "demo" / "consortium" / "ledger_keys.toml"
    registry = ModelRegistry(work / "registry")
    registry.promote(registry.register(run_dir, keys).version)
    model = registry.load("production")
    scorer = model.scorer()
    features = list(scorer.records.feature_names)
    test = add_identities(split_market()).consortium_test
    people = customers(test, features)
    results: dict[str, object] = {"model": model.card.as_dict(), "machine": machine_info()}

    if not args.batch_only:
        results.update(latencies(registry, scorer, people, work, args))
    console.print(f"batch scoring: writing a {args.batch_rows:,}-row book")
    big, small = work / "book_big.parquet", work / "book_1m.parquet"
    write_book(big, test, features, args.batch_rows)
    write_book(small, test, features, min(SMALL_BOOK_ROWS, args.batch_rows))
    csv_book = work / "book_1m.csv"
    pq.read_table(small).to_pandas().to_csv(csv_book, index=False)
    console.print("batch scoring: 1M rows (Parquet: engine, floor; CSV), then the big book")
    root = registry.root
    results["batch_1m_parquet"] = batch(root, small, work / "scored_1m.parquet")
    results["floor_1m_parquet"] = floor(root, small)
    results["batch_1m_csv"] = batch(root, csv_book, work / "scored_1m.csv")
    results["batch_big_parquet"] = batch(root, big, work / "scored_big.parquet")
    results["decide_big_parquet"] = batch(root, big, work / "decided_big.parquet", STRATEGY)
    results["floor_big_parquet"] = floor(root, big)
    for path in (big, small, csv_book):
        path.unlink()
    return publish(args.out_dir, "scoring", results, render_markdown(results))


def latencies(
    registry: ModelRegistry,
    scorer: Scorer,
    people: list[dict[str, object]],
    work: Path,
    args: argparse.Namespace,
) -> dict[str, object]:
    """In-process, gRPC one-client and 16-client measurements of single-customer scoring."""
    results: dict[str, object] = {}
    console.print("in-process single-customer scoring")
    results["in_process"] = best_of([in_process(scorer, people) for _ in range(args.repeats)])
    pki = init_pki(work / "pki", ["127.0.0.1", "localhost"])
    port = free_port()
    server = start_server(registry.root, pki.root, port)
    try:
        address = f"127.0.0.1:{port}"
        console.print("gRPC over TLS, one client")
        results["grpc_one_client"] = best_of(
            [one_client(address, pki.ca_cert, people) for _ in range(args.repeats)]
        )
        console.print(f"gRPC over TLS, 16 clients for {args.load_seconds:.0f} s")
        results["grpc_16_clients"] = load_test(address, pki.ca_cert, people, args.load_seconds)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return results


if __name__ == "__main__":
    sys.exit(main())
