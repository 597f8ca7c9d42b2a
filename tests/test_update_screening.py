"""Update screening and robust aggregation: broken updates never reach the global model.

Real Flower Messages and ArrayRecords, no simulation: replies go through the round
loop's own `collect_training`, then `screen_updates`, then a registered strategy.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Message,
    MetricRecord,
    RecordDict,
)
from message_support import error_reply, train_metadata

from fedscore.core import protocol
from fedscore.core.documents import json_safe
from fedscore.core.errors import ConfigError
from fedscore.core.runconfig import RunConfig
from fedscore.datasets import default_task_path
from fedscore.server.history import RoundHistory, RunHistory
from fedscore.server.party_names import PartyNames
from fedscore.server.run_console import refused_cell
from fedscore.server.rundir import build_summary
from fedscore.server.settings import ServerSettings
from fedscore.server.strategy import available_strategies, build_strategy
from fedscore.server.training_loop import collect_training
from fedscore.server.update_screening import screen_updates

SHAPES = {"0.weight": (1, 4), "0.bias": (1,)}


def _record(arrays: dict[str, np.ndarray]) -> ArrayRecord:
    """An ArrayRecord as a node builds it: from a PyTorch state dict."""
    return ArrayRecord({name: torch.from_numpy(values) for name, values in arrays.items()})


def _global() -> ArrayRecord:
    return _record({name: np.zeros(shape, np.float32) for name, shape in SHAPES.items()})


def _arrays(weight: list[float], bias: float = 0.0) -> dict[str, np.ndarray]:
    return {
        "0.weight": np.asarray([weight], np.float32),
        "0.bias": np.asarray([bias], np.float32),
    }


def _reply(
    party: str, arrays: dict[str, np.ndarray], node_id: int = 1, num_examples: float = 100
) -> Message:
    """A party's training reply as a node sends it (status "trained")."""
    content = RecordDict(
        {
            protocol.ARRAYS: _record(arrays),
            protocol.METRICS: MetricRecord(
                {
                    protocol.NUM_EXAMPLES: num_examples,
                    "epsilon-rdp": 0.5,
                    "epsilon-prv": 0.4,
                    "max-epsilon": 3.0,
                }
            ),
            protocol.PARTY: ConfigRecord(
                {
                    protocol.PARTY_NAME: party,
                    protocol.STATUS: protocol.TRAINED,
                    protocol.REASON: "",
                    protocol.NOTE: "",
                }
            ),
        }
    )
    return Message(content, metadata=train_metadata(node_id))


def _screen(
    replies: list[Message], run: RunConfig | None = None
) -> tuple[list[Message], RoundHistory]:
    """The round loop's steps: record the outcomes, then screen the updates."""
    record = RoundHistory(1)
    accepted = collect_training(
        replies, [r.metadata.src_node_id for r in replies], PartyNames(), record
    )
    assert len(accepted) == len(replies)
    return screen_updates(accepted, _global(), run or RunConfig(), record), record


def test_good_update_is_kept_with_its_norm():
    reply = _reply("bank", _arrays([3.0, 0.0, 0.0, 0.0], bias=4.0))
    kept, record = _screen([reply], RunConfig(max_update_norm=5.0))
    assert kept == [reply]
    outcome = record.outcomes["bank"]
    assert outcome.status == protocol.TRAINED and outcome.reason == ""
    assert outcome.update_norm == pytest.approx(5.0)
    assert outcome.epsilon_rdp == 0.5 and outcome.num_examples == 100


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_or_inf_is_rejected(bad):
    kept, record = _screen([_reply("bank", _arrays([0.1, bad, 0.0, 0.0]))])
    assert kept == []
    outcome = record.outcomes["bank"]
    assert outcome.status == protocol.REJECTED
    assert outcome.reason == "update rejected: NaN/Inf in '0.weight'"
    assert math.isnan(outcome.update_norm)
    # The party trained: what it reported (its privacy spend) stays in the record.
    assert outcome.epsilon_rdp == 0.5 and outcome.num_examples == 100


def test_wrong_shape_is_rejected():
    arrays = {"0.weight": np.zeros((1, 5), np.float32), "0.bias": np.zeros(1, np.float32)}
    kept, record = _screen([_reply("bank", arrays)])
    assert kept == []
    assert record.outcomes["bank"].status == protocol.REJECTED
    assert record.outcomes["bank"].reason == (
        "update rejected: '0.weight' has shape (1, 5), the global model's is (1, 4)"
    )


def test_other_array_names_are_rejected():
    arrays = {"0.weight": np.zeros((1, 4), np.float32), "extra": np.zeros(1, np.float32)}
    kept, record = _screen([_reply("bank", arrays)])
    assert kept == []
    assert record.outcomes["bank"].reason == (
        "update rejected: arrays differ from the global model's "
        "(missing ['0.bias'], unexpected ['extra'])"
    )


@pytest.mark.parametrize("num_examples", [0, -5, math.nan, math.inf])
def test_update_without_a_usable_weight_is_rejected(num_examples):
    # Straight to screening: the round loop's `_outcome` cannot record a NaN row count.
    record = RoundHistory(1)
    reply = _reply("bank", _arrays([0.1] * 4), num_examples=num_examples)
    assert screen_updates([reply], _global(), RunConfig(), record) == []
    assert record.outcomes["bank"].status == protocol.REJECTED
    assert record.outcomes["bank"].reason.startswith("update rejected: 'num-examples' is ")


def test_norm_beyond_the_bound_is_rejected_and_recorded():
    far = _reply("far", _arrays([3.0, 0.0, 0.0, 0.0], bias=4.0), node_id=1)
    near = _reply("near", _arrays([0.3, 0.0, 0.0, 0.0], bias=0.4), node_id=2)
    kept, record = _screen([far, near], RunConfig(max_update_norm=4.0))
    assert kept == [near]
    outcome = record.outcomes["far"]
    assert outcome.status == protocol.REJECTED
    assert outcome.reason == "update rejected: norm 5 exceeds max_update_norm 4.0"
    assert outcome.update_norm == pytest.approx(5.0)
    assert record.outcomes["near"].status == protocol.TRAINED
    assert record.outcomes["near"].update_norm == pytest.approx(0.5)


def test_no_bound_checks_no_norm():
    huge = _reply("bank", _arrays([3e6, 0.0, 0.0, 0.0], bias=4e6))
    kept, record = _screen([huge], RunConfig(max_update_norm=None))
    assert kept == [huge]
    assert record.outcomes["bank"].update_norm == pytest.approx(5e6)


def test_rejected_round_counts_as_refused_but_its_privacy_as_spent(tmp_path, schema):
    good = [_reply("bank", _arrays([0.1] * 4), node_id=1)]
    _, first = _screen([*good, _reply("city", _arrays([0.1] * 4), node_id=2)])
    _, second = _screen([*good, _reply("city", _arrays([math.nan] * 4), node_id=2)])
    second.server_round = 2
    history = RunHistory([first, second])
    assert history.refused_rounds("city") == [2] and history.rejected_rounds("city") == [2]
    assert history.trained_rounds("city") == [1]
    assert history.epsilon_series("city", "rdp") == [(1, 0.5), (2, 0.5)]
    assert history.latest_spend("city") is second.outcomes["city"]

    settings = ServerSettings.new_run(RunConfig(), default_task_path(), tmp_path, 2)
    city = build_summary(settings, schema, history)["parties"]["city"]
    assert city["refused_rounds"] == [2] and city["rejected_rounds"] == [2]
    assert city["refusal_reasons"] == ["update rejected: NaN/Inf in '0.weight'"]
    assert city["rounds_trained"] == 1 and city["epsilon"] == 0.5
    assert refused_cell(city) == "2 (rejected)"

    # A checkpoint keeps the norm, NaN included (JSON null).
    state = json.loads(json.dumps(json_safe(history.to_state()), allow_nan=False))
    restored = RunHistory.from_state(state)
    assert restored.rounds[1].outcomes["city"].status == protocol.REJECTED
    assert math.isnan(restored.rounds[1].outcomes["city"].update_norm)
    assert restored.rounds[0].outcomes["city"].update_norm == pytest.approx(0.2)


# Robust aggregation --------------------------------------------------------------


def _aggregate(run: RunConfig, weights: list[list[float]]) -> np.ndarray:
    """The aggregated '0.weight' of the parties' updates (biases all zero)."""
    replies = [
        _reply(f"p{i}", _arrays(w), node_id=i + 1, num_examples=100 * (i + 1))
        for i, w in enumerate(weights)
    ]
    strategy = build_strategy(run, len(replies))
    arrays, _ = strategy.aggregate_train(1, replies)
    assert arrays is not None
    return arrays["0.weight"].numpy()


def test_robust_strategies_are_registered():
    assert {"fedavg", "fedprox", "fedtrimmedavg", "fedmedian"} <= set(available_strategies())


def test_fedmedian_takes_the_coordinate_wise_median():
    weights = [[1.0, 20.0, -3.0, 0.0], [2.0, -5.0, 7.0, 0.0], [100.0, 10.0, 4.0, 0.0]]
    aggregated = _aggregate(RunConfig(strategy="fedmedian"), weights)
    np.testing.assert_allclose(aggregated, [[2.0, 10.0, 4.0, 0.0]])


def test_fedtrimmedavg_drops_the_outlier():
    weights = [[1.0] * 4, [2.0] * 4, [3.0] * 4, [4.0] * 4, [1000.0] * 4]
    aggregated = _aggregate(RunConfig(strategy="fedtrimmedavg", trim_beta=0.2), weights)
    np.testing.assert_allclose(aggregated, [[3.0] * 4])  # mean of 2, 3, 4


def test_fedtrimmedavg_with_three_parties_needs_a_third():
    weights = [[1.0] * 4, [2.0] * 4, [-1000.0] * 4]
    aggregated = _aggregate(RunConfig(strategy="fedtrimmedavg", trim_beta=0.34), weights)
    np.testing.assert_allclose(aggregated, [[1.0] * 4])  # the middle one
    with pytest.raises(ConfigError, match="trims nothing with 3 parties"):
        build_strategy(RunConfig(strategy="fedtrimmedavg"), 3)


# Run configuration ---------------------------------------------------------------


def test_run_config_round_trips_the_new_settings(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        '[run]\nstrategy = "fedtrimmedavg"\ntrim_beta = 0.3\nmax_update_norm = 5.0\n',
        encoding="utf-8",
    )
    run = RunConfig.from_toml(path)
    assert (run.strategy, run.trim_beta, run.max_update_norm) == ("fedtrimmedavg", 0.3, 5.0)
    flat = run.to_flower()
    assert flat["trim-beta"] == 0.3 and flat["max-update-norm"] == 5.0
    ConfigRecord(flat)  # Flower accepts it as is
    assert RunConfig.from_flower(flat) == run
    assert RunConfig.from_mapping(run.as_dict()) == run  # what a resumed run reads back

    unset = RunConfig()
    assert unset.max_update_norm is None and "max-update-norm" not in unset.to_flower()
    assert RunConfig.from_flower(unset.to_flower()).max_update_norm is None
    assert RunConfig.from_mapping(unset.as_dict()) == unset
    assert RunConfig.from_flower({"max-update-norm": "none"}).max_update_norm is None
    assert RunConfig.from_flower({"max-update-norm": 2.5}).max_update_norm == 2.5
    with pytest.raises(ConfigError, match="max_update_norm: Input should be a valid number"):
        RunConfig.from_flower({"max-update-norm": "2.5"})  # a text is not a number


@pytest.mark.parametrize(
    "changes",
    [{"max_update_norm": 0.0}, {"max_update_norm": -1.0}, {"trim_beta": 0.5}],
)
def test_run_config_refuses_bad_bounds(changes):
    with pytest.raises(ConfigError, match="run config: 1 invalid setting"):
        RunConfig().replace(**changes)


def test_an_error_the_superlink_answers_for_a_node_is_that_nodes_outcome():
    """Flower's SuperLink answers "Node Unavailable" itself (from its own node id, 1) for
    a node whose heartbeat lapsed: the outcome belongs to the node the message went to."""
    unavailable = error_reply("Error: Node Unavailable", src_node_id=1, sent_to=77)
    names = PartyNames()
    names.by_node[77] = "city_bank"
    record = RoundHistory(1)
    good = _reply("large_bank", _arrays([0.1, 0.1, 0.1, 0.1]), node_id=12)
    accepted = collect_training(
        [unavailable, good], [77, 12], names, record, {"sent-to-77": 77, "sent-to-12": 12}
    )
    assert accepted == [good]
    assert set(record.outcomes) == {"city_bank", "large_bank"}
    city = record.outcomes["city_bank"]
    assert city.status == protocol.FAILED and "Node Unavailable" in city.reason
