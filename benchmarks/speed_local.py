"""Local training alone, without Flower or Ray: DP-SGD against non-private, one thread.

One round of `train_locally` with `DpSgd` and with `NoPrivacy` on one party's training
rows, interleaved, plus what a DP round costs outside it (noise calibration, the
epsilon report) and what both modes pay to load the table.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from speed_report import mode_name
from support.timing import median_seconds

from fedscore.clients.local_data import PartyData, load_party_data
from fedscore.clients.node import NodeConfig
from fedscore.clients.training import LocalSchedule, train_locally
from fedscore.core.models import ModelSpec, build_model
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import TaskSchema, load_schema
from fedscore.demo import prepare_demo
from fedscore.privacy.accounting import PartyAccountant, calibrate_noise
from fedscore.privacy.dp_sgd import DpSgd, LocalPrivacy, MechanismParams, NoPrivacy

MICRO_PARTY = "large_bank"


def _privacy(private: bool, mechanism: MechanismParams) -> LocalPrivacy:
    return DpSgd(mechanism, PartyAccountant()) if private else NoPrivacy(PartyAccountant())


def _timed_round(
    data: PartyData, run: RunConfig, schedule: LocalSchedule, privacy: LocalPrivacy, seed: int
) -> float:
    model = build_model(ModelSpec(run.model, data.train_x.shape[1], run.hidden, run.seed))
    sampling = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    train_locally(model, data.train_x, data.train_y, run, schedule, privacy, sampling)
    return time.perf_counter() - started


def time_local_training(data: PartyData, model: str, repeats: int, warmup: int) -> dict[str, Any]:
    """One round of `train_locally`, DP vs non-DP, interleaved; medians and their ratio."""
    run = RunConfig(model=model)
    schedule = LocalSchedule.for_party(run, len(data.train_y))
    mechanism = schedule.calibrated_mechanism(run)
    times: dict[bool, list[float]] = {False: [], True: []}
    for index in range(warmup + repeats):
        # Alternate which mode goes first, so drift hits both alike.
        for private in (index % 2 == 0, index % 2 == 1):
            seconds = _timed_round(data, run, schedule, _privacy(private, mechanism), seed=index)
            if index >= warmup:
                times[private].append(seconds)
    medians = {p: statistics.median(t) for p, t in times.items()}
    return {
        "steps_per_round": schedule.steps_per_round,
        "expected_batch_size": schedule.expected_batch_size,
        "noise_multiplier": mechanism.noise_multiplier,
        "seconds": {mode_name(p): t for p, t in times.items()},
        "median_seconds": {mode_name(p): m for p, m in medians.items()},
        "min_seconds": {mode_name(p): min(t) for p, t in times.items()},
        "max_seconds": {mode_name(p): max(t) for p, t in times.items()},
        "ratio": medians[True] / medians[False],
    }


def time_round_overheads(node: NodeConfig, schema: TaskSchema, data: PartyData) -> dict[str, float]:
    """Median seconds of a node's per-round work outside `train_locally` (default run)."""
    run = RunConfig()
    schedule = LocalSchedule.for_party(run, len(data.train_y))
    steps = run.rounds * schedule.steps_per_round

    def calibrate() -> float:
        return calibrate_noise(
            run.epsilon, schedule.delta, schedule.sample_rate, steps, run.accountant
        )

    accountant = PartyAccountant()
    accountant.step(calibrate(), schedule.sample_rate, steps)
    return {
        "calibrate_noise_seconds": median_seconds(calibrate, 3),
        "epsilon_report_seconds": median_seconds(lambda: accountant.report(schedule.delta), 5),
        "load_party_data_seconds": median_seconds(lambda: load_party_data(node, schema), 5),
    }


def micro_benchmark(
    work: Path, repeats: int, models: Sequence[str], warmup: int = 2
) -> dict[str, Any]:
    """Local training without Flower or Ray on one party's rows, one thread like a node.

    Times `train_locally` DP vs non-DP per model, plus what a DP round costs outside
    it (noise calibration at a run's first round, the epsilon report after every
    round) and what both modes pay to load the table (read, validate, de-identify,
    encode; cached by the ClientApp across rounds).

    Args:
        work: an empty folder for the demo consortium.
        repeats: timed rounds per model and mode.
        models: the models timed ("lr", "mlp").
        warmup: untimed rounds first.

    Returns:
        The party, its rows, and per model the medians, spreads and DP / non-DP ratio.
    """
    federation = prepare_demo(work)
    config = next(p for p in federation.manifest.node_configs if p.parent.name == MICRO_PARTY)
    node = NodeConfig.from_toml(config)
    schema = load_schema(node.task_path)
    data = load_party_data(node, schema)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what the ClientApp does at every node
    try:
        with warnings.catch_warnings():
            # Opacus' PRV accountant sizes its domain with an RDP bound at a tiny delta and
            # warns that its largest order is optimal there; the epsilon is unaffected.
            warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
            models_timed = {m: time_local_training(data, m, repeats, warmup) for m in models}
            overheads = time_round_overheads(node, schema, data)
    finally:
        torch.set_num_threads(threads)
    return {
        "party": MICRO_PARTY,
        "train_rows": len(data.train_y),
        "features": int(data.train_x.shape[1]),
        "repeats": repeats,
        "warmup": warmup,
        "torch_threads": 1,
        "models": models_timed,
        "overheads": overheads,
    }
