"""The centralized baselines: trained on exactly the rows the parties train on, pooled.

Each node's de-identified training rows, as `load_party_data` returns them: LR on the
task schema's encoding, HistGradientBoostingClassifier on the raw feature columns with
scikit-learn's defaults, and the same GBDT tuned by a cross-validated grid search on the
pooled training rows only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from quality_configs import Configuration, result_row
from quality_setups import Setup
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from fedscore.clients.local_data import PartyData, load_party_data
from fedscore.clients.node import NodeConfig
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.generalization import generalize_column
from fedscore.core.metrics import score_metrics
from fedscore.core.schema import TaskSchema, load_schema
from fedscore.core.validation import ValidatedTable, load_validated
from fedscore.demo import prepare_demo

GBDT_GRID: dict[str, list[float | int]] = {
    "learning_rate": [0.03, 0.1],
    "max_iter": [100, 300],
    "max_leaf_nodes": [7, 15, 31],
    "min_samples_leaf": [20, 100],
}
GBDT_CV_FOLDS = 3
GBDT_CV_JOBS = 2


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
        """`parts`' rows one after the other."""
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
    if party.train_rows is None:
        raise RuntimeError(f"{name}: loaded through the node's cache, without train_rows")
    rows = ValidatedTable(party.train_rows, f"<{name} training rows>")
    encoded = FeatureEncoder(schema).transform(rows)
    if not (np.array_equal(encoded, party.train_x) and np.array_equal(rows.labels, party.train_y)):
        raise RuntimeError(f"{name}: train_rows do not match the rows the party trains on")
    return Pooled(party.train_x, _raw_features(rows.frame, schema), party.train_y)


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


def centralized_baselines(
    root: Path, setup: Setup | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Train and score the centralized baselines of `setup` (default: the demo's)."""
    setup = setup or Setup()
    federation = prepare_demo(root)
    schema = load_schema(setup.prepare(federation))
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
    rows.append(
        result_row(Configuration("centralized", "lr", setup=setup), [lr_metrics.as_dict()], started)
    )
    rows[-1]["iterations"] = int(lr.n_iter_[0])

    started = time.perf_counter()
    gbdt = HistGradientBoostingClassifier(random_state=0).fit(train.raw, train.labels)
    gbdt_metrics = score_metrics(test.labels, gbdt.predict_proba(test.raw)[:, 1])
    rows.append(
        result_row(
            Configuration("centralized", "gbdt", setup=setup), [gbdt_metrics.as_dict()], started
        )
    )
    rows[-1]["iterations"] = int(gbdt.n_iter_)
    rows[-1]["params"] = {"early_stopping": "auto (on: > 10000 rows)", "random_state": 0}

    started = time.perf_counter()
    search = tuned_gbdt(train)
    tuned_metrics = score_metrics(test.labels, search.predict_proba(test.raw)[:, 1])
    rows.append(
        result_row(
            Configuration("centralized", "gbdt", tuned=True, setup=setup),
            [tuned_metrics.as_dict()],
            started,
        )
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
