"""One party process of `benchmarks/scale.py`: its first load, or its training rounds.

Run as its own process so that its CPU time and peak memory are its own:

    python benchmarks/scale_party.py load NODE_TOML
        the first load: read, validate, consent, de-identify, encode, and write the
        node's cache (`clients.data_cache`), as the first message of a run does;
    python benchmarks/scale_party.py rounds NODE_TOML --request REQUEST.json
        the rounds of the model owner's signed run (REQUEST.json: "run" settings,
        "run_id", "run_request", written by scale.py) through the node's real handler
        (`train_round`: admission, the table from the cache, evaluation of the received
        model, DP-SGD, the journal commit), each round starting from the model the
        previous one returned.

Prints one JSON object: wall and CPU seconds (per round for `rounds`) and the process's
peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from flwr.app import ArrayRecord

from fedscore.clients.data_cache import load_cached_party_data
from fedscore.clients.node import NodeConfig
from fedscore.clients.rounds import train_round
from fedscore.core import protocol
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.models import ModelSpec, build_model
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import load_schema


def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: `ru_maxrss` would carry the parent's
    peak over, since Linux keeps it across execve)."""
    status = Path("/proc/self/status").read_text(encoding="ascii")
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kib) / 1024


def _timed(action: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def first_load(node: NodeConfig) -> dict[str, Any]:
    schema = load_schema(node.task_path)
    data, wall, cpu = _timed(lambda: load_cached_party_data(node, schema))
    return {
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "training_rows": len(data.train_y),
        "validation_rows": len(data.valid_y),
        "features": int(data.train_x.shape[1]),
        "peak_rss_mib": _peak_rss_mib(),
    }


def training_rounds(node: NodeConfig, signed: dict[str, Any]) -> dict[str, Any]:
    torch.set_num_threads(1)  # as the ClientApp trains at every node
    schema = load_schema(node.task_path)
    run = RunConfig.from_mapping(signed["run"])
    spec = ModelSpec(run.model, FeatureEncoder(schema).n_features, run.hidden, run.seed)
    arrays = ArrayRecord(build_model(spec).state_dict())
    measured: list[dict[str, Any]] = []
    for server_round in range(1, run.rounds + 1):
        request = protocol.RoundRequest(
            run,
            signed["run_id"],
            server_round,
            schema.sha256,
            schema.name,
            run_request=signed["run_request"],
        )
        config = request.to_record()
        reply, wall, cpu = _timed(
            lambda arrays=arrays, config=config: train_round(node, arrays, config)
        )
        answer = protocol.TrainReply.from_record(reply)
        if answer.party.status != protocol.Status.TRAINED or answer.update is None:
            raise SystemExit(f"round {server_round}: {answer.party.status}: {answer.party.reason}")
        arrays = answer.update
        measured.append(
            {
                "round": server_round,
                "wall_seconds": wall,
                "cpu_seconds": cpu,
                "steps": answer.metrics.steps,
                "delta": answer.metrics.delta,
                "epsilon_rdp": answer.metrics.epsilon_rdp,
                "evaluated_rows": answer.evaluation.num_examples if answer.evaluation else 0,
            }
        )
    return {"rounds": measured, "peak_rss_mib": _peak_rss_mib()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("load", "rounds"))
    parser.add_argument("node", type=Path)
    parser.add_argument("--request", type=Path, help="the signed run (rounds only)")
    arguments = parser.parse_args(argv)
    node = NodeConfig.from_toml(arguments.node)
    if arguments.what == "load":
        result = first_load(node)
    else:
        result = training_rounds(node, json.loads(arguments.request.read_text(encoding="utf-8")))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
