"""Secure aggregation (SecAgg+): the server learns only the weighted sum of the updates.

One real simulated round of three institutions under SecAgg+, with every reply each node
sends captured as Flower's wire objects. Checked against what the nodes themselves
committed (each node keeps its released update in its own privacy store):

- nothing a node sent holds its update in the clear: no array object, and not even a
  run of its update's raw float bytes;
- the new global model is FedAvg (weighted by training rows) of exactly those updates,
  within SecAgg+'s quantization error.
"""

from __future__ import annotations

import io
import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, RecordDict

from fedscore.clients.federation import FederationManifest
from fedscore.clients.node import NodeConfig
from fedscore.clients.secure_aggregation import _checked_for_masking
from fedscore.core import protocol
from fedscore.core.errors import ConfigError
from fedscore.core.runconfig import RunConfig
from fedscore.datasets import default_task_path
from fedscore.deployment.runs import deployment_run_config
from fedscore.server.settings import ServerSettings
from fedscore.server.strategy import build_strategy
from fedscore.simulation import run_simulated_training

# Unequal sizes, so that FedAvg's weighting by rows is visible in the aggregate.
PARTY_ROWS = {"large_bank": 6000, "city_bank": 3000, "loan_facilitator": 3000}
PARTIES = tuple(PARTY_ROWS)


@pytest.mark.simulation
def test_server_learns_only_the_weighted_average_of_the_updates(tmp_path, market, make_node):
    nodes = [
        make_node(tmp_path / name, name, market.parties[name].head(rows), capture_outgoing=True)
        for name, rows in PARTY_ROWS.items()
    ]
    manifest_path = tmp_path / "federation.toml"
    FederationManifest(tuple(nodes)).save(manifest_path)
    run = RunConfig(rounds=1, secure_aggregation=True, secagg_max_weight=10_000.0)
    settings = ServerSettings.new_run(
        run, default_task_path(), tmp_path / "runs", len(nodes), show_progress=False
    )
    run_dir = run_simulated_training(settings, FederationManifest.load(manifest_path))

    history = json.loads((run_dir / "metrics.json").read_text())
    (round_one,) = history["rounds"]
    assert round_one["aggregated"] is True
    outcomes = round_one["parties"]
    assert {party: o["status"] for party, o in outcomes.items()} == dict.fromkeys(
        PARTIES, protocol.TRAINED
    )
    assert all(math.isfinite(o["update_norm"]) and o["update_norm"] > 0 for o in outcomes.values())

    updates, weights = {}, {}
    for config in nodes:
        node = NodeConfig.from_toml(config)
        updates[node.party], weights[node.party] = _released_update(node, settings.run_id)
        assert weights[node.party] == outcomes[node.party]["num_examples"]

    # What left each node: masked vectors and aggregate figures, never the update.
    for config in nodes:
        node = NodeConfig.from_toml(config)
        sent = list((node.state_dir / "outgoing").rglob("*.bin"))
        assert len({p.parent for p in sent}) == 5  # four SecAgg+ stages + evaluation
        assert not [p for p in sent if p.name.startswith("Array-")]
        blob = b"".join(p.read_bytes() for p in sent)
        for values in updates[node.party].values():
            if values.size >= 8:
                assert values.astype(np.float32).tobytes()[:32] not in blob

    with np.load(run_dir / "model" / "weights.npz") as saved:
        global_model = {name: saved[name] for name in saved.files}
    total = sum(weights.values())
    fedavg = {
        name: sum(updates[p][name].astype(np.float64) * weights[p] for p in PARTIES) / total
        for name in global_model
    }
    unweighted = {
        name: sum(updates[p][name].astype(np.float64) for p in PARTIES) / len(PARTIES)
        for name in global_model
    }
    # Quantization: 2 × 8 / 2²² per weighted value and party, over the total weight.
    tolerance = 3 * (16 / 2**22) / (total / run.secagg_max_weight)
    error = max(float(np.max(np.abs(global_model[n] - fedavg[n]))) for n in global_model)
    assert error <= tolerance, f"secure aggregate differs from FedAvg by {error:.3g}"
    # The check can tell weightings apart: an unweighted mean would fail it.
    gap = max(float(np.max(np.abs(unweighted[n] - fedavg[n]))) for n in global_model)
    assert gap > 10 * tolerance


def _released_update(node: NodeConfig, run_id: str) -> tuple[dict[str, np.ndarray], int]:
    """The update a node committed for round 1 of the run, read from its privacy store."""
    with sqlite3.connect(node.accountant_db) as db:
        arrays, metrics = db.execute(
            "SELECT arrays, metrics FROM released_update WHERE run_id=? AND server_round=1",
            (run_id,),
        ).fetchone()
    with np.load(io.BytesIO(arrays)) as stored:
        update = {name: stored[name] for name in stored.files}
    return update, int(json.loads(metrics)[protocol.NUM_EXAMPLES])


@pytest.mark.parametrize("strategy", ["fedmedian", "fedtrimmedavg"])
def test_robust_strategies_are_refused_with_secure_aggregation(strategy):
    run = RunConfig(strategy=strategy, trim_beta=0.4, secure_aggregation=True)
    with pytest.raises(ConfigError, match="secure aggregation shows the server only their sum"):
        build_strategy(run, 3)
    with pytest.raises(ConfigError, match="needs every party's update in the clear"):
        deployment_run_config({"strategy": strategy, "trim-beta": 0.4}, parties=3)
    build_strategy(run.replace(secure_aggregation=False), 3)
    deployment_run_config(
        {"strategy": strategy, "trim-beta": 0.4, "secure-aggregation": False}, parties=3
    )


def test_secure_aggregation_needs_two_parties_per_round():
    with pytest.raises(ConfigError, match="min_parties >= 2"):
        RunConfig(secure_aggregation=True, min_parties=1)


def test_deployment_defaults_declare_every_run_setting():
    """Flower accepts only declared run-config keys: every RunConfig setting is declared,
    with RunConfig's default, except that deployment turns secure aggregation on."""
    import tomllib

    pyproject = Path(__file__).parent.parent / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text())["tool"]["flwr"]["app"]["config"]
    defaults = RunConfig().to_flower()
    assert declared["secure-aggregation"] is True
    for key, value in defaults.items():
        if key != "secure-aggregation":
            assert declared[key] == value, key
    assert declared["max-update-norm"] == ""


def _reply(values: np.ndarray, rows: int) -> RecordDict:
    return protocol.TrainReply(
        protocol.PartyReport("bank", protocol.Status.TRAINED),
        protocol.TrainMetrics(num_examples=rows, max_epsilon=3.0),
        ArrayRecord({"weight": Array(values)}),
    ).to_record()


GLOBAL = ArrayRecord({"weight": Array(np.zeros(4, dtype=np.float32))})


@pytest.mark.parametrize(
    ("values", "run", "reason"),
    [
        (np.array([0.1, np.nan, 0, 0], np.float32), RunConfig(), "NaN/Inf in 'weight'"),
        (np.array([3, 4, 0, 0], np.float32), RunConfig(max_update_norm=1.0), "norm 5 exceeds"),
        (
            np.array([900, 0, 0, 0], np.float32),
            RunConfig(secagg_max_weight=1000.0),
            "beyond secagg_clipping_range 8.0",
        ),
    ],
)
def test_node_rejects_its_own_update_before_masking(values, run, reason):
    checked = _checked_for_masking(_reply(values, rows=10), GLOBAL, run)
    party = checked.config_records[protocol.PARTY]
    assert party[protocol.STATUS] == protocol.REJECTED
    assert reason in str(party[protocol.REASON])
    assert "checked at the node" in str(party[protocol.REASON])
    assert protocol.ARRAYS not in checked.array_records


def test_node_keeps_a_sound_update():
    checked = _checked_for_masking(
        _reply(np.array([0.3, 0.4, 0, 0], np.float32), rows=10), GLOBAL, RunConfig()
    )
    assert checked.config_records[protocol.PARTY][protocol.STATUS] == protocol.TRAINED
    assert checked.metric_records[protocol.METRICS][protocol.UPDATE_NORM] == pytest.approx(0.5)
