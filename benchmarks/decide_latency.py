"""Decide latency: one application in process and over gRPC + TLS, and decide_frame's rows/s.

The model is the task's LR with fixed random weights (the same computation as a trained LR:
one 91-wide dot product), profiled on 1,000 consortium-test rows; the strategy is the
bundled `decisions/strategies/default.toml` with its 10 % challenger. Measures:

- `Decider.decide` in process (identifier checks, validation, encoding, score, reason
  codes, application-id hash, rules, limit, price): p50/p99/p99.9 over consortium-test
  customers, best of `--repeats` (3) runs; target p99 < 1 ms;
- `Decide` over gRPC with TLS on 127.0.0.1, the server (a `ScoringServer` with the
  strategy) in its own process, one client with sequential calls: best of 3 runs; target
  p99 < 5 ms;
- `Decider.decide_frame` over `--frame-rows` (1,000,000) rows already scored: rows/s.

Writes decide_latency.json and .md to `--out-dir` (default benchmarks/results/).

Usage: python benchmarks/decide_latency.py [--out-dir DIR] [--repeats 3] [--frame-rows N]
                                           [--quick]
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scoring_latency import best_of, call_latencies
from support.cli import benchmark_parser, parse_benchmark_args
from support.machine import machine_info, machine_line
from support.output import console, fmt, markdown_table, publish, verdict

QUICK = {"frame_rows": 100_000}
SEED = 7


def build_scorer(folder: Path):
    """The task's LR scorer with fixed random weights, profiled on `folder`/development.csv."""
    import torch

    from fedscore.core.artifact import ScoringModel
    from fedscore.core.encoding import FeatureEncoder
    from fedscore.core.models import ModelSpec, build_model
    from fedscore.core.runconfig import RunConfig
    from fedscore.core.schema import load_schema
    from fedscore.datasets import default_task_path
    from fedscore.scoring import Scorer, load_scoring_config
    from fedscore.scoring.development import DevelopmentProfile

    schema = load_schema(default_task_path())
    module = build_model(ModelSpec("lr", FeatureEncoder(schema).n_features, ()))
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    model = ScoringModel.of_module(module, schema, RunConfig(model="lr"))
    config = load_scoring_config()
    profile = DevelopmentProfile.build(model, folder / "development.csv", config)
    return Scorer(model, "bench-lr-v1", profile, config)


def build_decider(folder: Path):
    """A decider of `build_scorer` with the bundled strategy."""
    from fedscore.decisions import Decider
    from fedscore.decisions.strategies import default_strategy_path

    return Decider.load(build_scorer(folder), default_strategy_path())


def _serve(folder: str, ports, stop) -> None:
    """The server process: `Decide` with TLS on 127.0.0.1 until `stop` is set."""
    from fedscore.deployment.pki import PkiLayout
    from fedscore.scoring.grpc_api import ScoringServer, ServeSettings
    from fedscore.scoring.registry import ModelCard, RegisteredModel

    decider = build_decider(Path(folder))
    scorer = decider.scorer
    schema = scorer.model.schema
    card = ModelCard(
        scorer.version,
        "bench",
        schema.name,
        schema.version,
        schema.sha256,
        "lr",
        1,
        True,
        "rdp",
        (),
        {},
        "",
        "",
        "",
    )
    pki = PkiLayout(Path(folder) / "pki")
    settings = ServeSettings("127.0.0.1", 0, pki.server_cert, pki.server_key)
    model = RegisteredModel(card, scorer.model, scorer.profile, Path(folder))
    server = ScoringServer(model, scorer, settings, decider)
    server.start()
    ports.put(server.port)
    stop.wait()
    server.stop()


def one_client(address: str, ca: Path, people: list[dict[str, object]]) -> dict[str, float]:
    """Sequential `Decide` calls of one gRPC client over TLS (application ids by position)."""
    from fedscore.scoring.grpc_api import ScoringClient

    ids = iter(range(10**9))
    with ScoringClient(address, ca) as client:
        client.wait_ready()
        return call_latencies(lambda fields: client.decide(fields, f"app-{next(ids)}"), people)


def frame_rate(decider, frame, rows: int) -> dict[str, float]:
    """decide_frame over `rows` rows (the test set repeated), scores computed beforehand."""
    features = list(decider.scorer.records.feature_names)
    repeats = -(-rows // len(frame))
    columns = {c: np.tile(frame[c].to_numpy(), repeats)[:rows] for c in features}
    scores = decider.scorer.score_features(decider.scorer.encode_frame(frame[features], "bench"))
    take = np.tile(np.arange(len(frame)), repeats)[:rows]

    class Scores:
        probability = scores.probability[take]
        score = scores.score[take]
        grade = scores.grade[take]

    ids = np.char.add("app-", np.arange(rows).astype(str))
    started = time.perf_counter()
    decided = decider.decide_frame(columns, Scores, ids)
    seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_second": rows / seconds,
        "challenger_share": float(decided.arm.mean()),
    }


def render(results: dict) -> str:
    """The markdown report."""
    rows = []
    for key, label, target in (
        ("in_process", "Decide in process, 1 application", 1.0),
        ("grpc_one_client", "Decide over gRPC + TLS, 1 client", 5.0),
    ):
        r = results[key]
        met = verdict(r["p99_ms"] < target)
        rows.append(
            [label, fmt(r["p50_ms"], 3), fmt(r["p99_ms"], 3), f"p99 < {target:g} ms: {met}"]
        )
    frame = results["decide_frame"]
    load = " / ".join(f"{x:.2f}" for x in results["load_at_start"])
    return "\n\n".join(
        [
            "# Decide latency",
            f"LR with fixed random weights, bundled strategy with its 10 % challenger. Best of "
            f"{results['repeats']} runs (p99); load averages at the start (1/5/15 min) {load}.",
            markdown_table(["decide", "p50 ms", "p99 ms", "target"], rows),
            f"decide_frame: {frame['rows']:,} rows in {frame['seconds']:.2f} s "
            f"({frame['rows_per_second']:,.0f} rows/s; "
            f"challenger share {frame['challenger_share']:.3f}).",
            machine_line(results["machine"]),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """The script (`argv`: its arguments): time Decide, write the results."""
    from fedscore.core.tabular import write_table
    from fedscore.datasets.market import split_market
    from fedscore.deployment.pki import init_pki

    parser = benchmark_parser(__doc__, "100,000 frame rows, one latency run")
    parser.add_argument("--repeats", type=int, default=3, help="Latency runs (best p99 shown).")
    parser.add_argument("--frame-rows", type=int, default=1_000_000)
    args = parse_benchmark_args(parser, argv, "decide_latency", QUICK)
    work = Path(tempfile.mkdtemp(prefix="fedscore-bench-decide-"))
    test = split_market().consortium_test
    write_table(test.head(1000), work / "development.csv")
    decider = build_decider(work)
    features = list(decider.scorer.records.feature_names)
    people = test[features].to_dict("records")
    results: dict = {"machine": machine_info(), "load_at_start": list(os.getloadavg())}
    results["repeats"] = args.repeats
    console.print("Decide in process")
    ids = iter(range(10**9))
    results["in_process"] = best_of(
        [
            call_latencies(lambda f: decider.decide(f, f"app-{next(ids)}"), people)
            for _ in range(args.repeats)
        ]
    )
    pki = init_pki(work / "pki", ["127.0.0.1", "localhost"])
    context = multiprocessing.get_context("spawn")
    ports, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(str(work), ports, stop))
    server.start()
    try:
        address = f"127.0.0.1:{ports.get(timeout=120)}"
        console.print("Decide over gRPC + TLS, one client")
        results["grpc_one_client"] = best_of(
            [one_client(address, pki.ca_cert, people) for _ in range(args.repeats)]
        )
    finally:
        stop.set()
        server.join(timeout=30)
    console.print(f"decide_frame over {args.frame_rows:,} rows")
    results["decide_frame"] = frame_rate(decider, test[features], args.frame_rows)
    return publish(args.out_dir, "decide_latency", results, render(results))


if __name__ == "__main__":
    sys.exit(main())
