"""Vertical learning side by side: PSI, training in simulation, the AUC table, joint scoring.

One run on this machine measures, in order:

1. the private set intersection of two parties as two processes (`vertical_psi`): 100k ×
   100k identifiers (target ≤ 15 s) and 1M × 1M (target ≤ 150 s; skipped with --quick),
   wall time per stage and peak memory per party;
2. a full vertical run of the demo pair (20,000 shared customers, all of the bundled data)
   in Flower's simulation engine: wall time (target ≤ 60 s), the joint model's test AUC;
3. the AUC table on the same 20,000 shared people (80/20 split), in process: the bank
   alone, vertical non-private, vertical with DP (record ε = 1 each, label ε = 2; the mean
   of 3 noise and label seeds) and centralized on the joined columns (target: vertical DP
   within 0.01 of centralized, and a clear gain over the bank alone);
4. the bank's online joint score with the facilitator's partial score over mutual TLS on
   loopback (`vertical_scoring`): p50 and p99 (target p99 ≤ 5 ms), batch rows per second.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from support.cli import benchmark_parser, parse_benchmark_args
from support.machine import machine_line
from support.output import Session, fmt, markdown_table, verdict
from vertical_psi import measure_psi
from vertical_scoring import measure_online

from fedscore.core.schema import load_schema
from fedscore.datasets import default_task_path
from fedscore.datasets.market import bundled_dataset_path
from fedscore.privacy.label_dp import LabelRelease, RandomizedResponse
from fedscore.vertical.columns import BANK_COLUMNS, FACILITATOR_COLUMNS, LABEL
from fedscore.vertical.training.centralized import train_bank_alone, train_centralized
from fedscore.vertical.training.feature_side import FeatureSide
from fedscore.vertical.training.label_side import LabelSide
from fedscore.vertical.training.settings import VerticalSettings
from fedscore.vertical.training.submodels import party_encoder

SHARED = 20_000
SEED = 11


def measure_simulation(size: int | None) -> dict[str, Any]:
    """A whole vertical run of the demo pair in simulation: seconds and test figures."""
    import json

    from fedscore.demo.vertical_consortium import prepare_vertical_consortium
    from fedscore.vertical.relay import SUMMARY_FILE
    from fedscore.vertical.simulation import run_vertical_simulation

    with tempfile.TemporaryDirectory(prefix="vertical-bench-") as folder:
        pair = prepare_vertical_consortium(Path(folder), size=size)
        signed = pair.signed_run("vertical-benchmark", {})
        started = time.perf_counter()
        run_dir = run_vertical_simulation(signed, pair.node_configs, pair.runs_dir)
        seconds = time.perf_counter() - started
        summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    exchanges = summary["exchanges"]
    return {
        "seconds": seconds,
        "shared_people": pair.data.shared,
        "intersection": summary["psi"]["bank"]["intersection_size"],
        "train_rows": summary["setup"]["bank"]["train_rows"],
        "steps": summary["setup"]["bank"]["steps"],
        "test": summary["test"],
        "epsilon_rdp": {p: f["epsilon_rdp"] for p, f in summary["setup"].items()},
        "seconds_in_exchanges": sum(e["seconds"] for e in exchanges),
        "exchanges": len(exchanges),
        "target_met": seconds <= 60.0,
    }


def measure_auc_table(dp_seeds: int) -> dict[str, Any]:
    """The AUC table on the same shared people, in process (see the module)."""
    schema = load_schema(default_task_path())
    raw = pd.read_csv(bundled_dataset_path())
    shared = raw.sample(n=SHARED, random_state=SEED).reset_index(drop=True)
    train, test = train_test_split(shared, test_size=0.2, random_state=SEED, stratify=shared[LABEL])
    bank_encoder = party_encoder(schema, BANK_COLUMNS)
    facilitator_encoder = party_encoder(schema, FACILITATOR_COLUMNS)
    bank, facilitator = bank_encoder.transform(train), facilitator_encoder.transform(train)
    test_bank, test_facilitator = bank_encoder.transform(test), facilitator_encoder.transform(test)
    labels, test_labels = train[LABEL].to_numpy(), test[LABEL].to_numpy()
    settings = VerticalSettings()
    public = settings.replace(private=False)

    def auc(logits: np.ndarray) -> float:
        return float(roc_auc_score(test_labels, logits))

    def vertical(run: VerticalSettings, seed: int) -> float:
        if run.private:
            noisy = RandomizedResponse(run.label_epsilon).release(
                labels, np.random.default_rng(seed)
            )
            targets: Any = LabelRelease("0" * 64, run.label_epsilon, noisy, True, Path("release"))
        else:
            targets = labels
        left = LabelSide.create(run, bank, targets, SEED, noise_seed=seed)
        right = FeatureSide.create(run, facilitator, SEED, noise_seed=seed + 1)
        gradients: np.ndarray | None = None
        for step in range(left.trainer.plan.steps):
            contributions = (
                right.contributions(step)
                if gradients is None
                else right.apply_and_forward(step - 1, gradients)
            )
            assert contributions is not None
            gradients = left.step(step, contributions)
        right.apply(left.trainer.plan.steps - 1, gradients)
        return auc(left.contributions_for(test_bank) + right.contributions_for(test_facilitator))

    started = time.perf_counter()
    dp = [vertical(settings, seed) for seed in range(1, dp_seeds + 1)]
    result = {
        "bank_alone": auc(train_bank_alone(public, bank, labels, SEED).logits(test_bank)),
        "bank_alone_converged": auc(
            train_bank_alone(public.replace(epochs=300), bank, labels, SEED).logits(test_bank)
        ),
        "vertical_non_private": vertical(public, 0),
        "vertical_dp_mean": statistics.fmean(dp),
        "vertical_dp_runs": dp,
        "centralized": auc(
            train_centralized(public, bank, facilitator, labels, SEED).logits(
                test_bank, test_facilitator
            )
        ),
        "settings": settings.as_dict(),
        "train_rows": len(train),
        "test_rows": len(test),
        "seconds": time.perf_counter() - started,
    }
    result["gap_dp_to_centralized"] = result["centralized"] - result["vertical_dp_mean"]
    result["gain_over_bank_alone"] = result["vertical_dp_mean"] - result["bank_alone_converged"]
    result["target_met"] = (
        result["gap_dp_to_centralized"] <= 0.01 and result["gain_over_bank_alone"] > 0.03
    )
    return result


def render(result: dict[str, Any]) -> str:
    """The Markdown report."""
    psi_rows = [
        [
            f"{r['n_each']:,} × {r['n_each']:,}",
            fmt(r["wall_seconds"]["total"], 1),
            f"{r.get('target_seconds', '—')}",
            f"{max(r['peak_rss_mib'].values()):,.0f}",
            verdict(r["target_met"]),
        ]
        for r in result["psi"]
    ]
    sim, table, online = result["simulation"], result["auc"], result["scoring"]["online"]
    dp_runs = len(table["vertical_dp_runs"])
    auc_rows = [
        ["bank alone (same 30 steps)", fmt(table["bank_alone"])],
        ["bank alone (300 steps, converged)", fmt(table["bank_alone_converged"])],
        ["vertical, non-private", fmt(table["vertical_non_private"])],
        [
            f"vertical, DP (record ε 1 each, label ε 2; mean of {dp_runs})",
            fmt(table["vertical_dp_mean"]),
        ],
        ["centralized on the joined columns", fmt(table["centralized"])],
    ]
    epsilon = max(sim["epsilon_rdp"].values())
    batch = result["scoring"]["batch"]["rows_per_second"]
    return "\n".join(
        [
            "# Vertical learning",
            "",
            "## Private set intersection (two processes, ristretto255)",
            "",
            markdown_table(
                ["sets", "seconds", "target (s)", "peak RSS per party (MiB)", "met"], psi_rows
            ),
            "",
            "## A vertical run in simulation (the demo pair, all of the bundled data)",
            "",
            f"{sim['intersection']:,} shared customers with consent at both "
            f"({sim['train_rows']:,} training rows, {sim['steps']} steps): "
            f"**{sim['seconds']:.1f} s** end to end (target 60 s: {verdict(sim['target_met'])}), "
            f"{sim['seconds_in_exchanges']:.1f} s of it in the {sim['exchanges']} relayed "
            f"exchanges; test AUC {sim['test']['auc']:.4f} at record ε {epsilon:.3f} (RDP) "
            "per party and label ε 2.",
            "",
            f"## AUC on {table['test_rows']:,} held-out shared customers "
            f"({table['train_rows']:,} training)",
            "",
            markdown_table(["model", "AUC"], auc_rows),
            "",
            f"Vertical DP is {table['gap_dp_to_centralized']:.4f} below centralized "
            f"(target ≤ 0.01) and {table['gain_over_bank_alone']:.4f} above the converged "
            f"bank-alone model: {verdict(table['target_met'])}.",
            "",
            "## The bank's online joint score (partial score over mutual TLS, loopback)",
            "",
            f"p50 {online['p50_ms']:.2f} ms, p99 **{online['p99_ms']:.2f} ms** over "
            f"{online['n']:,} requests (target 5 ms: {verdict(online['p99_ms'] <= 5.0)}), "
            f"{online['fallbacks']} fallbacks; batch {batch:,.0f} rows/s.",
            "",
            machine_line(result["machine"]),
            f"Total runtime {result['total_seconds']:.0f} s. Load average (1 min) at start "
            f"{result['load_average_at_start'][0]:.2f}.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Measure everything in one run and write `vertical.json` and `vertical.md`."""
    parser = benchmark_parser(__doc__ or "", "PSI 20k only, 2,000 people, one DP seed")
    args = parse_benchmark_args(parser, argv, "vertical")
    session = Session("vertical", args.out_dir)
    sizes = [(20_000, None)] if args.quick else [(100_000, 15.0), (1_000_000, 150.0)]
    psi = []
    for n_each, target in sizes:
        measured = measure_psi(n_each, overlap=0.5)
        measured |= {"n_each": n_each, "target_seconds": target}
        total = measured["wall_seconds"]["total"]
        measured["target_met"] = measured["correct"] and (target is None or total <= target)
        psi.append(measured)
    result = {
        "psi": psi,
        "simulation": measure_simulation(2000 if args.quick else None),
        "auc": measure_auc_table(1 if args.quick else 3),
        "scoring": measure_online(size=2000 if args.quick else 3000),
    }
    return session.finish(result, render, with_load=True)


if __name__ == "__main__":
    sys.exit(main())
