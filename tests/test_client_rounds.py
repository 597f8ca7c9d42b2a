"""A node's round: budget checks, refusals recorded, nothing half-written on bad input."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord
from round_support import initial_arrays, round_request

from fedscore.clients.journal import AccountantKey, NodeJournal
from fedscore.clients.node import NodeConfig
from fedscore.clients.rounds import evaluate_round, train_round
from fedscore.core import protocol
from fedscore.core.runconfig import RunConfig
from fedscore.core.tabular import file_sha256


@pytest.fixture()
def node(tmp_path, party_table, make_node) -> NodeConfig:
    return NodeConfig.from_toml(make_node(tmp_path / "bank", "bank", party_table, max_epsilon=5))


def _key(node: NodeConfig, schema) -> AccountantKey:
    return AccountantKey(node.party, schema.name, file_sha256(node.data_path))


def test_trained_round_commits_accountant_and_record(node, schema):
    run = RunConfig(rounds=2, batch_size=256, delta=1e-4)
    reply = train_round(node, initial_arrays(schema, run), round_request(schema, run, 1))
    party = reply.config_records[protocol.PARTY]
    metrics = reply.metric_records[protocol.METRICS]
    assert party[protocol.STATUS] == protocol.TRAINED
    assert protocol.ARRAYS in reply.array_records
    store = NodeJournal(node.accountant_db)
    accountant = store.load(_key(node, schema))
    assert accountant.steps == metrics["steps"] > 0
    assert metrics["epsilon-rdp"] == accountant.epsilon(1e-4, "rdp")
    (record,) = store.rounds(_key(node, schema))
    assert record.status == "trained" and record.epsilon_rdp == metrics["epsilon-rdp"]


def test_noise_is_fixed_for_the_whole_run_and_spends_at_most_the_target(node, schema):
    run = RunConfig(rounds=3, batch_size=256, delta=1e-4, epsilon=1.0)
    noises = []
    for server_round in (1, 2, 3):
        reply = train_round(
            node, initial_arrays(schema, run), round_request(schema, run, server_round)
        )
        noises.append(reply.metric_records[protocol.METRICS]["noise-multiplier"])
    assert len(set(noises)) == 1
    assert 0.98 <= reply.metric_records[protocol.METRICS]["epsilon-rdp"] <= 1.0


def test_round_that_would_exceed_the_budget_is_refused_and_recorded(
    tmp_path, party_table, schema, make_node
):
    config = make_node(tmp_path / "f", "facilitator", party_table, max_epsilon=0.75)
    node = NodeConfig.from_toml(config)
    run = RunConfig(rounds=2, batch_size=256, delta=1e-4, epsilon=1.0)
    first = train_round(node, initial_arrays(schema, run), round_request(schema, run, 1))
    second = train_round(node, initial_arrays(schema, run), round_request(schema, run, 2))
    assert first.config_records[protocol.PARTY][protocol.STATUS] == protocol.TRAINED
    party = second.config_records[protocol.PARTY]
    assert party[protocol.STATUS] == protocol.REFUSED
    assert "beyond this node's max_epsilon 0.75" in party[protocol.REASON]
    assert protocol.ARRAYS not in second.array_records
    store = NodeJournal(node.accountant_db)
    spent = first.metric_records[protocol.METRICS]["epsilon-rdp"]
    assert store.load(_key(node, schema)).epsilon(1e-4, "rdp") == spent  # nothing more spent
    assert [r.status for r in store.rounds(_key(node, schema))] == ["trained", "refused"]


def test_budget_composes_across_runs(tmp_path, party_table, schema, make_node):
    node = NodeConfig.from_toml(make_node(tmp_path / "b", "b", party_table, max_epsilon=1.05))
    run = RunConfig(rounds=1, batch_size=256, delta=1e-4, epsilon=1.0)
    first = train_round(
        node, initial_arrays(schema, run), round_request(schema, run, 1, run_id="run-1")
    )
    second = train_round(
        node, initial_arrays(schema, run), round_request(schema, run, 1, run_id="run-2")
    )
    assert first.config_records[protocol.PARTY][protocol.STATUS] == protocol.TRAINED
    assert second.config_records[protocol.PARTY][protocol.STATUS] == protocol.REFUSED


def test_bad_table_fails_the_round_and_writes_nothing(tmp_path, party_table, schema, make_node):
    party_table.loc[4, "PAY_2"] = 42
    node = NodeConfig.from_toml(make_node(tmp_path / "x", "x", party_table))
    run = RunConfig(rounds=1, delta=1e-4)
    reply = train_round(node, initial_arrays(schema, run), round_request(schema, run, 1))
    party = reply.config_records[protocol.PARTY]
    assert party[protocol.STATUS] == protocol.FAILED
    assert "row 5 (line 6), column 'PAY_2': unknown category" in party[protocol.REASON]
    assert protocol.ARRAYS not in reply.array_records
    store = NodeJournal(node.accountant_db)
    assert store.rounds(_key(node, schema)) == []
    assert store.load(_key(node, schema)).steps == 0


def _unusable(good: ArrayRecord, kind: str) -> ArrayRecord:
    """A hostile or broken coordinator's global model of one kind."""
    arrays = {name: array.numpy() for name, array in good.items()}
    if kind == "NaN":
        return ArrayRecord({n: Array(np.full_like(a, np.nan)) for n, a in arrays.items()})
    if kind == "infinite":
        return ArrayRecord({n: Array(np.full_like(a, np.inf)) for n, a in arrays.items()})
    if kind == "another shape":
        return ArrayRecord({n: Array(np.zeros((3, 3), np.float32)) for n in arrays})
    return ArrayRecord({**{n: Array(a) for n, a in arrays.items()}, "x": Array(np.ones(1))})


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("NaN", "global model: '0.weight' holds values that are not finite"),
        ("infinite", "global model: '0.weight' holds values that are not finite"),
        ("another shape", "global model: '0.weight' has shape (3, 3), the run's model (1, "),
        ("another array", "global model: 'arrays' are not the run's model's: 3 array(s)"),
    ],
)
def test_a_global_model_the_run_cannot_start_from_fails_the_round_before_any_data_is_read(
    node, schema, kind, reason
):
    """A NaN model used to be trained from, and the round charged, for a NaN update; arrays
    of another shape failed only after the table had been read."""
    run = RunConfig(rounds=2, delta=1e-4)
    arrays = _unusable(initial_arrays(schema, run), kind)
    for server_round, handler in ((1, train_round), (2, evaluate_round)):
        reply = handler(node, arrays, round_request(schema, run, server_round))
        party = reply.config_records[protocol.PARTY]
        assert party[protocol.STATUS] == protocol.FAILED
        assert party[protocol.REASON].startswith(reason), party[protocol.REASON]
        assert protocol.ARRAYS not in reply.array_records
    store = NodeJournal(node.accountant_db)
    assert store.rounds(_key(node, schema)) == []
    assert store.load(_key(node, schema)).steps == 0
    assert not node.report_path(round_request(schema, run, 1)[protocol.RUN_ID]).exists()


def test_schema_mismatch_is_declined(node, schema):
    run = RunConfig(rounds=1, delta=1e-4)
    request = round_request(schema, run, 1)
    request[protocol.SCHEMA_SHA256] = "0" * 64
    party = train_round(node, initial_arrays(schema, run), request).config_records[protocol.PARTY]
    assert (
        party[protocol.STATUS] == protocol.DECLINED
        and "task schema mismatch" in party[protocol.REASON]
    )


def test_delta_must_be_below_one_over_n(node, schema):
    run = RunConfig(rounds=1, delta=0.01)
    party = train_round(
        node, initial_arrays(schema, run), round_request(schema, run, 1)
    ).config_records[protocol.PARTY]
    assert party[protocol.STATUS] == protocol.REFUSED and "not below 1/N" in party[protocol.REASON]


def test_non_private_rounds_need_the_node_to_allow_them(tmp_path, party_table, schema, make_node):
    run = RunConfig(rounds=1, private=False)
    closed = NodeConfig.from_toml(make_node(tmp_path / "c", "c", party_table))
    reply = train_round(closed, initial_arrays(schema, run), round_request(schema, run, 1))
    assert reply.config_records[protocol.PARTY][protocol.STATUS] == protocol.DECLINED
    opened = NodeConfig.from_toml(
        make_node(tmp_path / "o", "o", party_table, allow_non_private=True)
    )
    reply = train_round(opened, initial_arrays(schema, run), round_request(schema, run, 1))
    assert reply.config_records[protocol.PARTY][protocol.STATUS] == protocol.TRAINED
    assert math.isinf(reply.metric_records[protocol.METRICS]["epsilon-rdp"])


def test_evaluation_returns_only_aggregate_metrics(node, schema):
    run = RunConfig(rounds=1, delta=1e-4)
    reply = evaluate_round(node, initial_arrays(schema, run), round_request(schema, run, 1))
    metrics = reply.metric_records[protocol.METRICS]
    assert set(metrics) == {protocol.NUM_EXAMPLES, "auc", "ks", "brier", "log-loss"}
    assert metrics["auc"] == pytest.approx(0.5)  # the zero-initialised LR ranks nobody
    assert not reply.array_records


def test_a_training_request_scores_the_received_model_like_an_evaluationround_request(node, schema):
    """Federated evaluation folded into training: from round 2 on, the reply carries the
    received (previous round's) model scored on the validation rows, the very figures an
    evaluation request for that model returns; round 1's initial model is not scored."""
    run = RunConfig(rounds=2, batch_size=256, delta=1e-4)
    first = train_round(node, initial_arrays(schema, run), round_request(schema, run, 1))
    assert protocol.EVALUATION not in first.config_records
    previous = protocol.TrainReply.from_record(first).update
    assert previous is not None
    second = protocol.TrainReply.from_record(
        train_round(node, previous, round_request(schema, run, 2))
    )
    separate = protocol.EvaluateReply.from_record(
        evaluate_round(node, previous, round_request(schema, run, 2))
    )
    assert second.evaluation == separate.evaluation
    assert second.evaluation is not None and second.evaluation.scores is not None
    assert second.evaluation.scores.auc > 0.6  # a trained model, not the initial one


def test_a_refused_round_still_scores_the_received_model(tmp_path, party_table, schema, make_node):
    node = NodeConfig.from_toml(make_node(tmp_path / "f", "f", party_table, max_epsilon=0.75))
    run = RunConfig(rounds=2, batch_size=256, delta=1e-4, epsilon=1.0)
    first = protocol.TrainReply.from_record(
        train_round(node, initial_arrays(schema, run), round_request(schema, run, 1))
    )
    assert first.update is not None
    second = protocol.TrainReply.from_record(
        train_round(node, first.update, round_request(schema, run, 2))
    )
    assert second.party.status == protocol.Status.REFUSED and second.update is None
    assert second.evaluation is not None and second.evaluation.num_examples > 0


def test_a_new_data_version_draws_on_the_same_budget_until_the_operator_says_so(
    tmp_path, party_table, schema, make_node
):
    config = make_node(tmp_path / "b", "b", party_table, max_epsilon=1.5)
    node = NodeConfig.from_toml(config)
    run = RunConfig(rounds=1, batch_size=256, delta=1e-4, epsilon=1.0)
    first = train_round(
        node, initial_arrays(schema, run), round_request(schema, run, 1, run_id="jan")
    )
    assert first.config_records[protocol.PARTY][protocol.STATUS] == protocol.TRAINED
    # Next month's table: the same customers, one row fewer — a new data version.
    make_node(tmp_path / "b", "b", party_table.iloc[1:], max_epsilon=1.5)
    refused = train_round(
        node, initial_arrays(schema, run), round_request(schema, run, 1, run_id="feb")
    )
    party = refused.config_records[protocol.PARTY]
    assert party[protocol.STATUS] == protocol.REFUSED
    assert "on earlier data versions" in party[protocol.REASON]
    # The operator declares a new budget.
    config.write_text(config.read_text().replace("[privacy]", '[privacy]\nbudget_epoch = "2027"'))
    renewed = NodeConfig.from_toml(config)
    accepted = train_round(
        renewed, initial_arrays(schema, run), round_request(schema, run, 1, run_id="mar")
    )
    assert accepted.config_records[protocol.PARTY][protocol.STATUS] == protocol.TRAINED


def test_a_round_asked_again_is_answered_with_its_committed_update(
    tmp_path, party_table, schema, make_node
):
    """A crash between commit and reply: the same request gets the same update, free."""
    node = NodeConfig.from_toml(make_node(tmp_path / "f", "f", party_table, max_epsilon=0.75))
    run = RunConfig(rounds=2, batch_size=256, delta=1e-4, epsilon=1.0)
    arrays = initial_arrays(schema, run)
    first = train_round(node, arrays, round_request(schema, run, 1))
    again = train_round(node, arrays, round_request(schema, run, 1))
    party = again.config_records[protocol.PARTY]
    assert (
        party[protocol.STATUS] == protocol.TRAINED and "no new privacy cost" in party[protocol.NOTE]
    )
    head = json.loads(party[protocol.LEDGER_HEAD])
    assert head == json.loads(first.config_records[protocol.PARTY][protocol.LEDGER_HEAD])
    sent, resent = first.array_records[protocol.ARRAYS], again.array_records[protocol.ARRAYS]
    assert list(sent) == list(resent)
    for name in sent:
        assert (sent[name].numpy() == resent[name].numpy()).all()
    assert dict(again.metric_records[protocol.METRICS]) == dict(
        first.metric_records[protocol.METRICS]
    )
    store = NodeJournal(node.accountant_db)
    key = _key(node, schema)
    assert store.load(key).steps == first.metric_records[protocol.METRICS]["steps"]
    assert [(r.status, r.attempt) for r in store.rounds(key)] == [("trained", 1)]


def test_a_round_asked_again_from_another_model_is_charged_and_recorded_again(
    tmp_path, party_table, schema, make_node
):
    node = NodeConfig.from_toml(make_node(tmp_path / "f", "f", party_table, max_epsilon=0.75))
    run = RunConfig(rounds=2, batch_size=256, delta=1e-4, epsilon=1.0)
    first = train_round(node, initial_arrays(schema, run), round_request(schema, run, 1))
    other = first.array_records[protocol.ARRAYS]  # not the model round 1 started from
    again = train_round(node, other, round_request(schema, run, 1))
    # A second training of round 1 would pass the budget: refused, and both attempts kept.
    assert again.config_records[protocol.PARTY][protocol.STATUS] == protocol.REFUSED
    store = NodeJournal(node.accountant_db)
    key = _key(node, schema)
    rounds = store.rounds(key)
    assert [(r.status, r.attempt) for r in rounds] == [("trained", 1), ("refused", 2)]
    assert store.trained_round(key, "run-a", 1)
    assert sum(r.steps or 0 for r in rounds) == store.load(key).steps > 0


def test_a_state_file_from_before_attempts_is_migrated(tmp_path):
    import sqlite3

    path = tmp_path / "privacy.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE round (party TEXT NOT NULL, task TEXT NOT NULL, data_version TEXT NOT "
        "NULL, run_id TEXT NOT NULL, server_round INTEGER NOT NULL, status TEXT NOT NULL, "
        "reason TEXT NOT NULL, noise_multiplier REAL, sample_rate REAL, steps INTEGER, "
        "max_grad_norm REAL, delta REAL NOT NULL, epsilon_rdp REAL, epsilon_prv REAL, "
        "max_epsilon REAL NOT NULL, created_at TEXT NOT NULL, "
        "PRIMARY KEY (party, task, data_version, run_id, server_round))"
    )
    db.execute(
        "INSERT INTO round VALUES ('bank','t','v1','run-a',1,'trained','',3.0,0.1,6,4.0,"
        "1e-5,0.5,0.45,3.0,'2026-11-01T00:00:00+00:00')"
    )
    db.commit()
    db.close()
    store = NodeJournal(path)
    (record,) = store.rounds(AccountantKey("bank", "t", "v1"))
    assert record.attempt == 1 and record.steps == 6 and record.epsilon_rdp == 0.5


def test_validation_rows_of_one_class_leave_the_evaluation_unscored_and_training_goes_on(
    node, schema, monkeypatch
):
    """A small party's validation hold-out may hold no defaulter: the folded evaluation
    then has no scores, and the round trains as it would without it."""
    from fedscore.clients import data_cache

    real = data_cache.load_cached_party_data

    def one_class_validation(node_config, task, *args):
        data = real(node_config, task, *args)
        return dataclasses.replace(data, valid_y=np.zeros_like(data.valid_y))

    run = RunConfig(rounds=2, batch_size=256, delta=1e-4)
    first = protocol.TrainReply.from_record(
        train_round(
            node, initial_arrays(schema, run), round_request(schema, run, 1), one_class_validation
        )
    )
    assert first.update is not None
    reply = train_round(node, first.update, round_request(schema, run, 2), one_class_validation)
    second = protocol.TrainReply.from_record(reply)
    assert second.party.status == protocol.Status.TRAINED and second.update is not None
    assert second.evaluation is not None and second.evaluation.scores is None
    assert second.evaluation.num_examples > 0
