"""Model quality on the demo consortium: federated (DP and not) against centralized baselines.

Every model is scored on the consortium test set (AUC, KS). The centralized
baselines train on exactly the rows the parties train on, pooled: each node's
de-identified training rows (consented, pseudonymized, one row per person,
k-anonymized with AGE in 10-year bands, outside the party's federated-validation
hold-out) as `load_party_data` returns them:

* centralized LR: scikit-learn's LogisticRegression on the task schema's encoding
  (`PartyData.train_x`);
* centralized GBDT, default: HistGradientBoostingClassifier(random_state=0) on the
  raw feature columns as the nodes hold them after de-identification
  (`PartyData.train_rows`: LIMIT_BAL … PAY_AMT6 as numbers, AGE banded);
* centralized GBDT, tuned: the same model (early stopping off) with a 3-fold
  cross-validated grid search over learning rate, iterations, leaves and leaf size,
  on the pooled training rows only;

the federated runs train LR and MLP non-privately and under DP-SGD at several
epsilons, each configuration in a freshly prepared demo directory (fresh privacy
state) holding the baselines' pseudonymization keys, so the parties split off the
same hold-out and train on the same rows (checked: rows trained on per party). Gaps "to central
GBDT" and the target use the stronger of the two GBDTs (higher test AUC).

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
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from fedscore.clients.local_data import PartyData, load_party_data
from fedscore.clients.node import NodeConfig
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.generalization import generalize_column
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
TARGET_STATEMENT = (
    "best federated DP model at epsilon 1 within 0.015 AUC of the stronger centralized GBDT"
)
MODEL_NAMES = {"lr": "LR", "mlp": "MLP", "gbdt": "GBDT"}
GBDT_GRID: dict[str, list[float | int]] = {
    "learning_rate": [0.03, 0.1],
    "max_iter": [100, 300],
    "max_leaf_nodes": [7, 15, 31],
    "min_samples_leaf": [20, 100],
}
GBDT_CV_FOLDS = 3
GBDT_CV_JOBS = 2


@dataclass(frozen=True)
class Configuration:
    """One row of the benchmark.

    Attributes:
        kind: "centralized" or "federated".
        model: "lr", "mlp" or "gbdt".
        private: DP-SGD (federated only).
        epsilon: the run's target epsilon when private.
        tuned: hyperparameters chosen by cross-validated grid search (centralized GBDT).
    """

    kind: str
    model: str
    private: bool = False
    epsilon: float | None = None
    tuned: bool = False

    @property
    def name(self) -> str:
        if self.kind == "centralized":
            if self.model == "gbdt":
                variant = "tuned, 3-fold CV grid search" if self.tuned else "sklearn defaults"
                return f"centralized GBDT, {variant} (non-private, raw columns)"
            return f"centralized {MODEL_NAMES[self.model]} (non-private, schema encoding)"
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
        raw: the schema's feature columns as numbers, as the nodes hold them after
            de-identification (AGE banded to its 10-year band's midpoint).
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


def _raw_features(frame: pd.DataFrame, schema: TaskSchema) -> pd.DataFrame:
    """Every feature column of the schema as a number (categorical codes are numeric)."""
    return pd.DataFrame(
        {spec.name: pd.to_numeric(frame[spec.name]) for spec in schema.features}
    ).reset_index(drop=True)


def party_training_rows(party: PartyData, name: str, schema: TaskSchema) -> Pooled:
    """The rows a party trains on in a federated run, in both representations.

    Both come from `load_party_data` (the node's own code path): the encoding is
    `train_x`/`train_y`, the raw columns are `train_rows`; re-encoding `train_rows`
    must give `train_x` and its labels `train_y`, i.e. the same rows in the same order.
    """
    rows = ValidatedTable(party.train_rows, f"<{name} training rows>")
    encoded = FeatureEncoder(schema).transform(rows)
    if not (np.array_equal(encoded, party.train_x) and np.array_equal(rows.labels, party.train_y)):
        raise RuntimeError(f"{name}: train_rows do not match the rows the party trains on")
    return Pooled(party.train_x, _raw_features(party.train_rows, schema), party.train_y)


def consortium_test_rows(path: Path, schema: TaskSchema) -> Pooled:
    """The consortium test set as the server evaluates it (features and label only).

    The raw columns get the schema's generalization (AGE to its band's midpoint), as
    the feature encoder applies it at evaluation and scoring time, so the raw-column
    GBDT sees test rows on the same scale as the de-identified training rows.
    """
    table = load_validated(path, schema, model_columns_only=True)
    encoded = FeatureEncoder(schema).transform(table)
    raw = _raw_features(table.frame, schema)
    for spec in schema.features:
        if spec.generalize is not None and spec.generalize.band is not None:
            raw[spec.name] = generalize_column(raw[spec.name], spec.generalize)
    return Pooled(encoded, raw, table.labels)


def tuned_gbdt(train: Pooled) -> GridSearchCV:
    """HistGradientBoostingClassifier tuned by 3-fold CV AUC on the training rows only.

    The folds are stratified and shuffled (the pooled rows are in party order, so
    unshuffled folds would each hold mostly one institution).
    """
    search = GridSearchCV(
        HistGradientBoostingClassifier(random_state=0, early_stopping=False),
        GBDT_GRID,
        cv=StratifiedKFold(n_splits=GBDT_CV_FOLDS, shuffle=True, random_state=0),
        scoring="roc_auc",
        n_jobs=GBDT_CV_JOBS,
        refit=True,
    )
    return search.fit(train.raw, train.labels)


def centralized_baselines(root: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Train and score the centralized baselines; returns their rows and the data sizes."""
    federation = prepare_demo(root)
    schema = load_schema(default_task_path())
    nodes = [NodeConfig.from_toml(p) for p in federation.manifest.node_configs]
    loaded = {node.party: load_party_data(node, schema) for node in nodes}
    parts = {name: party_training_rows(p, name, schema) for name, p in loaded.items()}
    train = Pooled.concat(list(parts.values()))
    test = consortium_test_rows(federation.consortium_test, schema)
    data = {
        "train_rows_per_party": {name: len(p.labels) for name, p in parts.items()},
        "deidentification_rows_per_party": {
            name: dict(p.report.rows) for name, p in loaded.items()
        },
        "k_achieved_per_party": {name: p.report.k_achieved for name, p in loaded.items()},
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
    rows[-1]["params"] = {"early_stopping": "auto (on: > 10000 rows)", "random_state": 0}

    started = time.perf_counter()
    search = tuned_gbdt(train)
    tuned_metrics = score_metrics(test.labels, search.predict_proba(test.raw)[:, 1])
    rows.append(
        _row(Configuration("centralized", "gbdt", tuned=True), [tuned_metrics.as_dict()], started)
    )
    rows[-1]["iterations"] = int(search.best_estimator_.n_iter_)
    rows[-1]["params"] = {k: _plain(v) for k, v in search.best_params_.items()}
    rows[-1]["search"] = {
        "grid": GBDT_GRID,
        "cv": f"StratifiedKFold(n_splits={GBDT_CV_FOLDS}, shuffle=True, random_state=0)",
        "scoring": "roc_auc",
        "fixed": {"random_state": 0, "early_stopping": False},
        "candidates": len(search.cv_results_["params"]),
        "best_cv_auc": float(search.best_score_),
        "best_cv_auc_std": float(search.cv_results_["std_test_score"][search.best_index_]),
        "fitted_on": "pooled party training rows only (never the consortium test set)",
    }
    return rows, data


def _plain(value: Any) -> Any:
    """A numpy scalar as a Python number (for JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def _row_mismatches(run: FederatedRun, expected: dict[str, int]) -> list[str]:
    """Parties whose federated run trained on another number of rows than the baselines."""
    return [
        f"{party} trained on {info['num_examples']} rows, the baselines on {expected.get(party)}"
        for party, info in run.summary["parties"].items()
        if info["num_examples"] != expected.get(party)
    ]


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
        "tuned": configuration.tuned,
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


def stronger_gbdt(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The centralized GBDT with the higher test AUC (default or tuned)."""
    gbdts = [r for r in rows if r["kind"] == "centralized" and r["model"] == "gbdt"]
    return max(gbdts, key=lambda r: r["auc"])


def add_gaps(rows: list[dict[str, Any]]) -> None:
    """Gap = reference AUC − this row's AUC (positive: below the reference).

    `gap_central_gbdt` is to the stronger centralized GBDT; the gaps to the default
    and to the tuned GBDT are kept too.
    """
    central_lr = next(r for r in rows if r["kind"] == "centralized" and r["model"] == "lr")
    gbdts = {
        r["tuned"]: r["auc"] for r in rows if r["kind"] == "centralized" and r["model"] == "gbdt"
    }
    reference = stronger_gbdt(rows)
    non_private = {
        r["model"]: r["auc"] for r in rows if r["kind"] == "federated" and not r["private"]
    }
    for row in rows:
        row["gap_central_gbdt"] = reference["auc"] - row["auc"]
        row["gap_central_gbdt_default"] = gbdts[False] - row["auc"]
        row["gap_central_gbdt_tuned"] = gbdts[True] - row["auc"]
        row["gap_central_lr"] = central_lr["auc"] - row["auc"]
        same_model = non_private.get(row["model"]) if row["private"] else None
        row["gap_federated_non_private"] = None if same_model is None else same_model - row["auc"]


def target_verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether the best DP model at epsilon 1 is within 0.015 AUC of the stronger GBDT."""
    gbdt = stronger_gbdt(rows)
    candidates = [r for r in rows if r["private"] and r["epsilon"] == TARGET_EPSILON]
    best = max(candidates, key=lambda r: r["auc"])
    gap = gbdt["auc"] - best["auc"]
    return {
        "statement": TARGET_STATEMENT,
        "max_gap": TARGET_MAX_GAP,
        "models_compared": sorted({r["model"] for r in candidates}),
        "best_configuration": best["name"],
        "best_auc": best["auc"],
        "best_auc_min": best["auc_min"],
        "best_auc_max": best["auc_max"],
        "central_gbdt": gbdt["name"],
        "central_gbdt_tuned": gbdt["tuned"],
        "central_gbdt_params": gbdt["params"],
        "central_gbdt_auc": gbdt["auc"],
        "gap": gap,
        "met": gap <= TARGET_MAX_GAP,
    }


def _spread(row: dict[str, Any], metric: str) -> str:
    text = fmt(row[metric])
    if len(row["repeats"]) > 1:
        text += f" ({fmt(row[f'{metric}_min'])}–{fmt(row[f'{metric}_max'])})"
    return text


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in params.items())


def render_markdown(result: dict[str, Any]) -> str:
    """The short report: one table, the target verdict, the setting."""
    rows = result["rows"]
    reference = stronger_gbdt(rows)
    which = "tuned" if reference["tuned"] else "default"
    table = markdown_table(
        [
            "configuration",
            "AUC",
            "KS",
            f"gap to central GBDT ({which}, the stronger)",
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
    deid = data["deidentification_rows_per_party"]
    read = sum(r["read"] for r in deid.values())
    consented = sum(r["with_consent"] for r in deid.values())
    kept = sum(r["after_suppression"] for r in deid.values())
    lines = [
        "# Quality: federated (DP) vs centralized, consortium test set",
        "",
        f"Demo split: {len(data['train_rows_per_party'])} institutions; de-identification at "
        f"the nodes keeps {kept} of {read} rows ({consented} with consent, then one row per "
        f"person and k-anonymity, k ≥ {min(data['k_achieved_per_party'].values())} achieved); "
        f"{data['train_rows']} of them are training rows (default rate "
        f"{data['train_default_rate']:.3f}), the rest the parties' federated-validation "
        f"hold-outs. Consortium test set of {data['test_rows']} customers (default rate "
        f"{data['test_default_rate']:.3f}). Federated runs: "
        f"{result['rounds']} rounds of FedAvg, δ = 1e-5, other RunConfig defaults; "
        f"{repeats} repeat(s) per federated configuration"
        + (", mean (min–max)." if repeats > 1 else ".")
        + " Gap = reference AUC − this AUC (positive: worse than the reference).",
        "",
        table,
        "",
        f"Target — {TARGET_STATEMENT}: {verdict}. Best DP model at ε = 1: "
        f"{target['best_configuration']}, AUC {fmt(target['best_auc'])}"
        + (
            f" (runs {fmt(target['best_auc_min'])}–{fmt(target['best_auc_max'])})"
            if repeats > 1
            else ""
        )
        + f" vs the stronger centralized GBDT, the {which} one, "
        f"{fmt(target['central_gbdt_auc'])} (gap {fmt(target['gap'], signed=True)}, "
        f"allowed {TARGET_MAX_GAP}).",
    ]
    default = next(r for r in rows if r["model"] == "gbdt" and not r["tuned"])
    tuned = next(r for r in rows if r["model"] == "gbdt" and r["tuned"])
    search = tuned["search"]
    lines += [
        "",
        f"Centralized GBDTs (HistGradientBoostingClassifier, random_state = 0): the default "
        f"one uses scikit-learn's defaults (early stopping on an internal 10 % validation "
        f"split: {default['iterations']} boosting iterations), test AUC "
        f"{fmt(default['auc'])}; the tuned one (early stopping off) was chosen by a "
        f"{search['candidates']}-candidate grid search, {GBDT_CV_FOLDS}-fold stratified "
        f"shuffled CV AUC on the pooled training rows only (best CV AUC "
        f"{fmt(search['best_cv_auc'])} ± {fmt(search['best_cv_auc_std'])}): "
        f"{_params_text(tuned['params'])}; test AUC {fmt(tuned['auc'])}. The stronger on "
        f"the test set, used for the gaps and the target, is the **{which}** GBDT.",
        "",
        "All centralized baselines train on the union of the rows the parties train on, "
        "as `load_party_data` returns them after de-identification (LR on their schema "
        "encoding, the GBDTs on their raw feature columns with AGE in 10-year bands; the "
        "test set's AGE is banded the same way, as the feature encoder does). Every "
        "federated run uses the baselines' pseudonymization keys, hence the same "
        "hold-outs and training rows.",
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
                run = run_federated(
                    work / f"config{index}-run{repeat}",
                    configuration.run_config(),
                    keys_from=work / "centralized",
                )
                repeats.append(_federated_repeat(run))
                found = run.problems() + _row_mismatches(run, data["train_rows_per_party"])
                problems += [f"{configuration.name}, run {repeat + 1}: {p}" for p in found]
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
