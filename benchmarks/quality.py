"""Model quality on the demo consortium: federated (DP and not) against centralized baselines.

Every model is scored on the consortium test set (AUC, KS). The centralized
baselines train on exactly the rows the parties train on (consented, outside
each party's federated-validation hold-out), pooled:

* centralized LR: scikit-learn's LogisticRegression on the task schema's encoding;
* centralized GBDT: HistGradientBoostingClassifier(random_state=0) on the raw UCI
  columns (LIMIT_BAL … PAY_AMT6, as numbers);

the federated runs train LR and MLP non-privately and under DP-SGD at several
epsilons, each configuration in a freshly prepared demo directory.

Writes <out-dir>/quality.json (every row, machine info) and <out-dir>/quality.md.
Run with `make bench-quality`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import (
    RESULTS_DIR,
    FederatedRun,
    configuration_progress,
    console,
    fmt,
    machine_info,
    machine_line,
    markdown_table,
    run_federated,
    write_results,
)
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from fedscore.clients.local_data import load_party_data, validation_mask
from fedscore.clients.node import NodeConfig
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.metrics import score_metrics
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import TaskSchema, load_schema
from fedscore.core.validation import ValidatedTable, load_validated
from fedscore.datasets.market import default_task_path
from fedscore.demo import prepare_demo

EPSILONS = (0.5, 1.0, 3.0, 8.0)
MODELS = ("lr", "mlp")
TARGET_EPSILON = 1.0
TARGET_MAX_GAP = 0.015
TARGET_STATEMENT = "best federated DP model at epsilon 1 within 0.015 AUC of centralized GBDT"
MODEL_NAMES = {"lr": "LR", "mlp": "MLP", "gbdt": "GBDT"}


@dataclass(frozen=True)
class Configuration:
    """One row of the benchmark.

    Attributes:
        kind: "centralized" or "federated".
        model: "lr", "mlp" or "gbdt".
        private: DP-SGD (federated only).
        epsilon: the run's target epsilon when private.
    """

    kind: str
    model: str
    private: bool = False
    epsilon: float | None = None

    @property
    def name(self) -> str:
        if self.kind == "centralized":
            inputs = "raw columns" if self.model == "gbdt" else "schema encoding"
            return f"centralized {MODEL_NAMES[self.model]} (non-private, {inputs})"
        privacy = f"DP ε={self.epsilon:g}" if self.private else "non-private"
        return f"federated {MODEL_NAMES[self.model]}, {privacy}"

    def run_config(self) -> RunConfig:
        if self.private:
            assert self.epsilon is not None
            return RunConfig(model=self.model, epsilon=self.epsilon, delta=1e-5)
        return RunConfig(model=self.model, private=False, delta=1e-5)


def federated_configurations(quick: bool) -> list[Configuration]:
    """Non-private first, then DP by increasing epsilon, for each model."""
    if quick:
        return [
            Configuration("federated", "lr"),
            Configuration("federated", "lr", True, TARGET_EPSILON),
        ]
    return [
        configuration
        for model in MODELS
        for configuration in (
            Configuration("federated", model),
            *(Configuration("federated", model, True, e) for e in EPSILONS),
        )
    ]


@dataclass(frozen=True)
class Pooled:
    """Rows of one or more tables in both representations.

    Attributes:
        encoded: the task schema's encoding (what the federated models see).
        raw: the schema's feature columns as numbers (the original UCI columns).
        labels: 0/1 default labels.
    """

    encoded: np.ndarray
    raw: pd.DataFrame
    labels: np.ndarray

    @staticmethod
    def concat(parts: list[Pooled]) -> Pooled:
        return Pooled(
            np.vstack([p.encoded for p in parts]),
            pd.concat([p.raw for p in parts], ignore_index=True),
            np.concatenate([p.labels for p in parts]),
        )


def _raw_features(table: ValidatedTable, schema: TaskSchema) -> pd.DataFrame:
    """Every feature column of the schema as a number (categorical codes are numeric)."""
    return pd.DataFrame(
        {spec.name: pd.to_numeric(table.frame[spec.name]) for spec in schema.features}
    )


def _consented(table: ValidatedTable, schema: TaskSchema) -> np.ndarray:
    if schema.consent is None:
        return np.ones(len(table.frame), dtype=bool)
    return table.frame[schema.consent.name].to_numpy(dtype=bool)


def party_training_rows(node: NodeConfig, schema: TaskSchema) -> Pooled:
    """The rows `node` trains on in a federated run, in both representations.

    The encoded rows come from `load_party_data` (the node's own code path); the raw
    rows are selected with the same consent filter and validation hold-out, and
    checked to be the same rows.
    """
    party = load_party_data(node, schema)
    table = load_validated(node.data_path, schema)
    keep = _consented(table, schema)
    keys = table.frame[schema.customer_key.name].to_numpy(dtype=object)[keep]
    train = ~validation_mask(keys, node.validation_fraction)
    raw = _raw_features(table, schema)[keep][train].reset_index(drop=True)
    encoded = FeatureEncoder(schema).transform(table)[keep][train]
    labels = table.labels[keep][train]
    if not (np.array_equal(encoded, party.train_x) and np.array_equal(labels, party.train_y)):
        raise RuntimeError(f"{node.party}: raw rows do not match the rows the party trains on")
    return Pooled(party.train_x, raw, party.train_y)


def consortium_test_rows(path: Path, schema: TaskSchema) -> Pooled:
    """The consortium test set (consented rows), as the server evaluates it."""
    table = load_validated(path, schema)
    keep = _consented(table, schema)
    encoded = FeatureEncoder(schema).transform(table)[keep]
    raw = _raw_features(table, schema)[keep].reset_index(drop=True)
    return Pooled(encoded, raw, table.labels[keep])


def centralized_baselines(root: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Train and score both centralized baselines; returns their rows and the data sizes."""
    federation = prepare_demo(root)
    schema = load_schema(default_task_path())
    nodes = [NodeConfig.from_toml(p) for p in federation.manifest.node_configs]
    parts = {node.party: party_training_rows(node, schema) for node in nodes}
    train = Pooled.concat(list(parts.values()))
    test = consortium_test_rows(federation.consortium_test, schema)
    data = {
        "train_rows_per_party": {name: len(p.labels) for name, p in parts.items()},
        "train_rows": len(train.labels),
        "train_default_rate": float(train.labels.mean()),
        "test_rows": len(test.labels),
        "test_default_rate": float(test.labels.mean()),
        "encoded_features": int(train.encoded.shape[1]),
        "raw_columns": list(train.raw.columns),
    }
    rows = []
    started = time.perf_counter()
    lr = LogisticRegression(max_iter=5000).fit(train.encoded, train.labels)
    lr_metrics = score_metrics(test.labels, lr.predict_proba(test.encoded)[:, 1])
    rows.append(_row(Configuration("centralized", "lr"), [lr_metrics.as_dict()], started))
    rows[-1]["iterations"] = int(lr.n_iter_[0])
    started = time.perf_counter()
    gbdt = HistGradientBoostingClassifier(random_state=0).fit(train.raw, train.labels)
    gbdt_metrics = score_metrics(test.labels, gbdt.predict_proba(test.raw)[:, 1])
    rows.append(_row(Configuration("centralized", "gbdt"), [gbdt_metrics.as_dict()], started))
    rows[-1]["iterations"] = int(gbdt.n_iter_)
    return rows, data


def _federated_repeat(run: FederatedRun) -> dict[str, Any]:
    test = run.consortium_test
    return {
        "auc": test["auc"],
        "ks": test["ks"],
        "brier": test["brier"],
        "log_loss": test["log_loss"],
        "run_seconds": run.summary["seconds"],
        "wall_seconds": run.wall_seconds,
        "parties": {
            party: {
                "epsilon_rdp": info["epsilon_rdp"],
                "epsilon_prv": info["epsilon_prv"],
                "noise_multiplier": info["noise_multiplier"],
                "num_examples": info["num_examples"],
                "rounds_trained": info["rounds_trained"],
                "refused_rounds": info["refused_rounds"],
            }
            for party, info in run.summary["parties"].items()
        },
        "problems": run.problems(),
    }


def _row(
    configuration: Configuration, repeats: list[dict[str, Any]], started: float
) -> dict[str, Any]:
    """A configuration's result: per-repeat metrics plus their mean, min and max."""
    row: dict[str, Any] = {
        "name": configuration.name,
        "kind": configuration.kind,
        "model": configuration.model,
        "private": configuration.private,
        "epsilon": configuration.epsilon,
        "repeats": repeats,
        "seconds": time.perf_counter() - started,
    }
    for metric in ("auc", "ks", "brier", "log_loss"):
        values = [float(r[metric]) for r in repeats]
        row[metric] = statistics.fmean(values)
        row[f"{metric}_min"], row[f"{metric}_max"] = min(values), max(values)
    if configuration.kind == "federated":
        row["run_config"] = configuration.run_config().as_dict()
    return row


def add_gaps(rows: list[dict[str, Any]]) -> None:
    """Gap = reference AUC − this row's AUC (positive: below the reference)."""
    central = {r["model"]: r["auc"] for r in rows if r["kind"] == "centralized"}
    non_private = {
        r["model"]: r["auc"] for r in rows if r["kind"] == "federated" and not r["private"]
    }
    for row in rows:
        row["gap_central_gbdt"] = central["gbdt"] - row["auc"]
        row["gap_central_lr"] = central["lr"] - row["auc"]
        reference = non_private.get(row["model"]) if row["private"] else None
        row["gap_federated_non_private"] = None if reference is None else reference - row["auc"]


def target_verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether the best DP model at epsilon 1 is within 0.015 AUC of centralized GBDT."""
    gbdt = next(r for r in rows if r["model"] == "gbdt")
    candidates = [r for r in rows if r["private"] and r["epsilon"] == TARGET_EPSILON]
    best = max(candidates, key=lambda r: r["auc"])
    gap = gbdt["auc"] - best["auc"]
    return {
        "statement": TARGET_STATEMENT,
        "max_gap": TARGET_MAX_GAP,
        "models_compared": sorted({r["model"] for r in candidates}),
        "best_configuration": best["name"],
        "best_auc": best["auc"],
        "central_gbdt_auc": gbdt["auc"],
        "gap": gap,
        "met": gap <= TARGET_MAX_GAP,
    }


def _spread(row: dict[str, Any], metric: str) -> str:
    text = fmt(row[metric])
    if len(row["repeats"]) > 1:
        text += f" ({fmt(row[f'{metric}_min'])}–{fmt(row[f'{metric}_max'])})"
    return text


def render_markdown(result: dict[str, Any]) -> str:
    """The short report: one table, the target verdict, the setting."""
    rows = result["rows"]
    table = markdown_table(
        [
            "configuration",
            "AUC",
            "KS",
            "gap to central GBDT",
            "gap to federated non-private (same model)",
            "gap to central LR",
        ],
        [
            [
                row["name"],
                _spread(row, "auc"),
                _spread(row, "ks"),
                fmt(row["gap_central_gbdt"], signed=True),
                fmt(row["gap_federated_non_private"], signed=True),
                fmt(row["gap_central_lr"], signed=True),
            ]
            for row in rows
        ],
    )
    data, target = result["data"], result["target"]
    verdict = "**met**" if target["met"] else "**not met**"
    repeats = result["repeats"]
    lines = [
        "# Quality: federated (DP) vs centralized, consortium test set",
        "",
        f"Demo split: {len(data['train_rows_per_party'])} institutions, "
        f"{data['train_rows']} training rows in total (default rate "
        f"{data['train_default_rate']:.3f}), consortium test set of {data['test_rows']} "
        f"customers (default rate {data['test_default_rate']:.3f}). Federated runs: "
        f"{result['rounds']} rounds of FedAvg, δ = 1e-5, other RunConfig defaults; "
        f"{repeats} repeat(s) per federated configuration"
        + (", mean (min–max)." if repeats > 1 else ".")
        + " Gap = reference AUC − this AUC (positive: worse than the reference).",
        "",
        table,
        "",
        f"Target — {TARGET_STATEMENT}: {verdict}. Best DP model at ε = 1: "
        f"{target['best_configuration']}, AUC {fmt(target['best_auc'])} vs centralized GBDT "
        f"{fmt(target['central_gbdt_auc'])} (gap {fmt(target['gap'], signed=True)}, "
        f"allowed {TARGET_MAX_GAP}).",
    ]
    gbdt = next(r for r in rows if r["model"] == "gbdt")
    lines += [
        "",
        "Centralized GBDT uses scikit-learn's defaults (early stopping on an internal 10 % "
        f"validation split: {gbdt['iterations']} boosting iterations); both centralized "
        "baselines train on the union of the rows the parties train on (consented, outside "
        "each party's federated-validation hold-out).",
    ]
    if result["quick"]:
        lines += ["", "Quick mode: only LR was run federated, so the target compares LR only."]
    if result["problems"]:
        lines += ["", "**Problems:**", *(f"- {p}" for p in result["problems"])]
    lines += [
        "",
        machine_line(result["machine"]),
        f"Total runtime: {result['total_seconds']:.0f} s.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs per federated configuration (default 1)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="only federated LR (non-private and ε=1) plus the centralized baselines",
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where results go")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")

    started = time.perf_counter()
    configurations = federated_configurations(args.quick)
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="fedscore-bench-quality-") as tmp,
        configuration_progress() as progress,
    ):
        work = Path(tmp)
        task = progress.add_task(
            "centralized baselines", total=1 + len(configurations) * args.repeats
        )
        central_rows, data = centralized_baselines(work / "centralized")
        rows += central_rows
        progress.advance(task)
        for index, configuration in enumerate(configurations):
            config_started = time.perf_counter()
            repeats = []
            for repeat in range(args.repeats):
                progress.update(
                    task, description=f"{configuration.name} (run {repeat + 1}/{args.repeats})"
                )
                run = run_federated(work / f"config{index}-run{repeat}", configuration.run_config())
                repeats.append(_federated_repeat(run))
                problems += [f"{configuration.name}, run {repeat + 1}: {p}" for p in run.problems()]
                progress.advance(task)
            rows.append(_row(configuration, repeats, config_started))
        progress.update(task, description="done")
    add_gaps(rows)
    result: dict[str, Any] = {
        "benchmark": "quality",
        "quick": args.quick,
        "repeats": args.repeats,
        "rounds": RunConfig().rounds,
        "data": data,
        "rows": rows,
        "target": target_verdict(rows),
        "problems": problems,
        "machine": machine_info(),
        "total_seconds": time.perf_counter() - started,
    }
    markdown = render_markdown(result)
    for path in write_results(args.out_dir, "quality", result, markdown):
        console.print(f"wrote {path}")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
