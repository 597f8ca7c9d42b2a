"""The automatic DP settings: sane and deterministic choices, recorded; the second task."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from flwr.app import ArrayRecord, ConfigRecord

from fedscore.clients.node import NodeConfig
from fedscore.clients.rounds import train_round
from fedscore.clients.training import LocalSchedule
from fedscore.core import protocol
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.models import ModelSpec, build_model
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import load_schema
from fedscore.core.validation import validate_frame
from fedscore.datasets import bundled_task_path
from fedscore.datasets.market import BEHIND_LAST_MONTH, load_bundled
from fedscore.privacy.accounting import PartyAccountant
from fedscore.privacy.auto_settings import AutoRule, choose_settings


@pytest.mark.parametrize("rows", [200, 10_000, 1_000_000])
def test_the_rule_gives_every_party_several_amplified_steps_and_meets_epsilon(rows):
    run = RunConfig(epsilon=1.0)
    schedule = LocalSchedule.for_party(run, rows)
    assert schedule.auto is not None and 0 < schedule.sample_rate < 1
    assert AutoRule().min_steps <= schedule.steps_per_round <= AutoRule().max_steps
    assert 1 <= schedule.expected_batch_size < rows
    mechanism = schedule.calibrated_mechanism(run)
    assert np.isfinite(mechanism.noise_multiplier) and mechanism.noise_multiplier > 0
    # The real accountant, over the whole run, lands on the target.
    accountant = PartyAccountant()
    accountant.step(
        mechanism.noise_multiplier, mechanism.sample_rate, run.rounds * schedule.steps_per_round
    )
    assert accountant.epsilon(schedule.delta, "rdp") == pytest.approx(1.0, abs=0.01)


def test_small_parties_take_fewer_shorter_steps_and_large_ones_cap_the_batch():
    run = RunConfig()
    small, medium, large = (choose_settings(run, n) for n in (200, 10_000, 1_000_000))
    assert small.steps_per_round < medium.steps_per_round == large.steps_per_round
    assert small.learning_rate < medium.learning_rate == large.learning_rate
    assert large.batch_size == AutoRule().max_batch and small.batch_size == 40
    assert "N=200" in small.reason and "shortened" in small.reason


def test_the_rule_is_deterministic_and_depends_on_public_figures_only():
    run = RunConfig(epsilon=2.0, rounds=5)
    assert choose_settings(run, 777) == choose_settings(RunConfig(epsilon=2.0, rounds=5), 777)
    assert choose_settings(run, 777) != choose_settings(run.replace(epsilon=0.5), 777)


def test_auto_is_the_default_until_a_training_setting_is_set():
    assert RunConfig().automatic and RunConfig(rounds=3, epsilon=2.0).automatic
    assert not RunConfig(batch_size=256).automatic
    assert not RunConfig(auto=False).automatic
    assert RunConfig(batch_size=256, auto=True).automatic
    manual = LocalSchedule.for_party(RunConfig(batch_size=256), 1_000)
    assert manual.auto is None and manual.expected_batch_size == 256
    assert manual.settings(RunConfig(batch_size=256))["mode"] == "manual"
    # Flower's run config: "" leaves it unset, a boolean sets it.
    assert RunConfig.from_flower({"auto": ""}).auto is None
    assert RunConfig.from_flower({"auto": False}).automatic is False


def test_the_settings_are_recorded_as_the_node_trains_with_them():
    run = RunConfig()
    schedule = LocalSchedule.for_party(run, 200)
    recorded = schedule.settings(run)
    assert recorded["mode"] == "auto" and recorded["batch_size"] == 40
    assert recorded["learning_rate"] == schedule.step_size(run) != run.learning_rate
    assert schedule.calibrated_mechanism(run).max_grad_norm == recorded["max_grad_norm"]


def test_the_second_bundled_task_validates_and_encodes_without_its_labels_source():
    schema = load_schema(bundled_task_path("early_delinquency"))
    assert schema.name == "early_delinquency"
    features = {spec.name for spec in schema.features}
    assert not features & {"PAY_0", "BILL_AMT1", "PAY_AMT1", "default.payment.next.month"}
    rows = load_bundled().head(300).drop(columns=["ID"])
    rows[BEHIND_LAST_MONTH] = (rows["PAY_0"] >= 1).astype(int)
    table = validate_frame(rows, schema, source="<sample>", model_columns_only=True)
    encoded = FeatureEncoder(schema).transform(table)
    assert encoded.shape[0] == 300 and np.isfinite(encoded).all()
    assert set(table.labels.tolist()) == {0.0, 1.0}


def test_a_nodes_round_trains_with_the_automatic_settings_and_ledgers_them(
    tmp_path, party_table, schema, make_node
):
    node = NodeConfig.from_toml(make_node(tmp_path / "bank", "bank", party_table, max_epsilon=5))
    run = RunConfig(rounds=2, delta=1e-4)
    model = build_model(ModelSpec(run.model, FeatureEncoder(schema).n_features, run.hidden))
    request = ConfigRecord(
        {
            **run.to_flower(),
            protocol.RUN_ID: "run-auto",
            protocol.SERVER_ROUND: 1,
            protocol.SCHEMA_SHA256: schema.sha256,
            protocol.TASK: schema.name,
        }
    )
    reply = train_round(node, ArrayRecord(model.state_dict()), request)
    metrics = reply.metric_records[protocol.METRICS]
    rows = int(metrics["num-examples"])
    chosen = choose_settings(run, rows)
    assert metrics["steps"] == chosen.steps_per_round
    assert metrics["sample-rate"] == pytest.approx(chosen.sample_rate)
    with sqlite3.connect(node.accountant_db) as db:
        (content,) = [json.loads(row[0]) for row in db.execute("SELECT content FROM ledger")]
    recorded = _find(content, "training_settings")
    assert recorded["mode"] == "auto" and recorded["reason"] == chosen.reason
    assert recorded["learning_rate"] == chosen.learning_rate


def _find(document: object, key: str) -> dict[str, object]:
    """The first value named `key` anywhere in a JSON document."""
    if isinstance(document, dict):
        if key in document:
            return document[key]
        found = [_find(value, key) for value in document.values()]
    elif isinstance(document, list):
        found = [_find(value, key) for value in document]
    else:
        return {}
    return next((f for f in found if f), {})
