"""Run checkpoints: saved after every round, restored exactly, and free of card-like numbers."""

from __future__ import annotations

import math

import torch
from flwr.app import ArrayRecord

from fedscore.privacy.pii import is_luhn_valid, scan_file
from fedscore.server.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from fedscore.server.history import PartyOutcome, RoundHistory, RunHistory


def _luhn_valid_node_id() -> int:
    """A 19-digit Flower node id that a scanner would take for a bank card if written out."""
    candidate = 6_222_021_234_567_890_000
    while not is_luhn_valid(str(candidate)):
        candidate += 1
    return candidate


def test_a_checkpoint_restores_model_history_and_parties(tmp_path):
    arrays = ArrayRecord({"0.weight": torch.arange(4.0).reshape(1, 4), "0.bias": torch.ones(1)})
    outcome = PartyOutcome(
        "city_bank", "trained", num_examples=4000, epsilon_rdp=0.5, ledger_head={"seq": 0}
    )
    history = RunHistory(
        [RoundHistory(1, {"city_bank": outcome}, aggregated=True, seconds=1.5)],
        {"auc": 0.7},
    )
    node_id = _luhn_valid_node_id()
    save_checkpoint(tmp_path, Checkpoint(1, arrays, history, {node_id: "city_bank"}))
    save_checkpoint(tmp_path, Checkpoint(2, arrays, history, {node_id: "city_bank"}))
    restored = load_checkpoint(tmp_path)
    assert restored is not None and restored.completed_round == 2
    assert restored.party_names == {node_id: "city_bank"}
    assert list(restored.arrays) == ["0.weight", "0.bias"]
    assert (restored.arrays["0.weight"].numpy() == [[0.0, 1.0, 2.0, 3.0]]).all()
    (saved,) = restored.history.rounds
    assert saved.outcomes["city_bank"].ledger_head == {"seq": 0}
    assert saved.outcomes["city_bank"].epsilon_rdp == 0.5
    assert math.isnan(saved.outcomes["city_bank"].epsilon_prv)
    # The previous round's model file is gone once the new state names the new one.
    assert {p.name for p in (tmp_path / "checkpoint").iterdir()} == {
        "state.json",
        "model-00002.npz",
    }
    for path in (tmp_path / "checkpoint").iterdir():
        assert scan_file(path) == {}, path
    assert str(node_id) not in (tmp_path / "checkpoint" / "state.json").read_text()


def test_no_checkpoint_means_a_fresh_start(tmp_path):
    assert load_checkpoint(tmp_path) is None


def test_a_node_named_late_gets_its_name_in_earlier_rounds():
    """A node that died before it ever answered is recorded by its node id; once it
    answers, its earlier rounds carry its institution's name."""
    history = RunHistory()
    first = RoundHistory(1, aggregated=True)
    first.outcomes["node-abc"] = PartyOutcome("node-abc", "failed", reason="no reply")
    first.outcomes["city_bank"] = PartyOutcome("city_bank", "trained", num_examples=10)
    first.federated_eval["node-abc"] = {"auc": 0.7}
    second = RoundHistory(2, aggregated=True)
    second.outcomes["loan_facilitator"] = PartyOutcome("loan_facilitator", "trained")
    history.rounds += [first, second]

    history.rename_party("node-abc", "loan_facilitator")

    assert set(first.outcomes) == {"city_bank", "loan_facilitator"}
    assert first.outcomes["loan_facilitator"].party == "loan_facilitator"
    assert first.outcomes["loan_facilitator"].reason == "no reply"
    assert first.federated_eval == {"loan_facilitator": {"auc": 0.7}}
    assert history.refused_rounds("loan_facilitator") == [1]
    assert history.trained_rounds("loan_facilitator") == [2]
